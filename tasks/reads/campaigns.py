"""Campaigns as the caller may see them: lists, one campaign with its stages and deadlines, and the
choices the pages offer (the home page's latest, the ledgers page's pickers)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from models import Campaign, CampaignPublic, CampaignSummary, Obligation, ObligationPublic, OrgUnit, Stage, StagePublic
from tasks.accounts import Principal
from tasks.reads import Page, fetch_page, where_given
from tasks.registry import get_definitions
from tasks.scope import scoped, visible


def definition_name(key: str) -> str:
    """The name of a campaign's definition (its key when the definition is no longer loaded)."""
    definition = get_definitions().get(key)
    return definition.name if definition else key


def summary(campaign: Campaign, township: OrgUnit) -> CampaignSummary:
    return CampaignSummary(
        id=campaign.id or 0, definition=campaign.definition_key, definition_name=definition_name(campaign.definition_key),
        definition_version=campaign.definition_version, township=township.code, township_name=township.name,
        year=campaign.year, status=campaign.status, launched_at=campaign.launched_at,
    )


def _joined() -> Any:
    return select(Campaign, OrgUnit).join(OrgUnit, col(Campaign.township_id) == OrgUnit.id)


def _with_township(principal: Principal) -> Any:
    """Campaigns with their townships, within the caller's townships."""
    return scoped(_joined(), principal, Campaign.township_id)


def filtered(principal: Principal, *, township: str | None = None, year: int | None = None,
             definition: str | None = None) -> Any:
    """The one filter of campaign lists (the API's and the ledger's): the caller's townships, then the
    township code, year and definition asked for; rows are (Campaign, OrgUnit) pairs."""
    return where_given(_with_township(principal), (OrgUnit.code, township), (Campaign.year, year),
                       (Campaign.definition_key, definition))


def list_campaigns(session: Session, principal: Principal, *, township: str | None = None, year: int | None = None,
                   definition: str | None = None, limit: int = 100, offset: int = 0) -> Page[dict[str, Any]]:
    """One page of the caller's campaigns, by id."""
    stmt = filtered(principal, township=township, year=year, definition=definition)
    rows, total = fetch_page(session, stmt, col(Campaign.id), limit=limit, offset=offset)
    return Page([summary(c, t).model_dump(mode="json") for c, t in rows], total, limit, offset)


def get_campaign(session: Session, principal: Principal, campaign_id: int) -> CampaignPublic:
    """One campaign with its stages and deadlines; 404 outside the caller's townships."""
    row = session.exec(_joined().where(Campaign.id == campaign_id)).first()
    campaign, township = visible(principal, row, row[0].township_id if row else None,
                                 f"没有编号为 {campaign_id} 的督办任务")
    stages = session.exec(select(Stage).where(Stage.campaign_id == campaign_id).order_by(col(Stage.seq))).all()
    stage_keys = {s.id: s.key for s in stages}
    obligations = session.exec(
        select(Obligation, OrgUnit).join(OrgUnit, col(Obligation.subject_id) == OrgUnit.id)
        .where(Obligation.campaign_id == campaign_id).order_by(col(Obligation.due_on), col(Obligation.key))
    ).all()
    return CampaignPublic(
        **summary(campaign, township).model_dump(),
        warnings=campaign.calendar_warnings,
        stages=[StagePublic(key=s.key, name=s.name, seq=s.seq, opens_on=s.opens_on, closes_on=s.closes_on,
                            gate=s.gate_key, status=s.status) for s in stages],
        obligations=[
            ObligationPublic(
                id=o.id or 0, key=o.key, kind=o.kind, title=o.title, stage=stage_keys.get(o.stage_id),
                subject=subject.code, subject_name=subject.name, period=o.period, opens_on=o.opens_on,
                nominal_due_on=o.nominal_due_on, due_on=o.due_on, status=o.status,
            )
            for o, subject in obligations
        ],
    )


def latest_campaigns(session: Session, principal: Principal, *, limit: int = 50) -> list[dict[str, Any]]:
    """The caller's most recently launched campaigns with their townships and definition names (home page)."""
    rows = session.exec(_with_township(principal).order_by(col(Campaign.id).desc()).limit(limit)).all()
    return [{"campaign": c, "township": t, "definition_name": definition_name(c.definition_key)} for c, t in rows]


def campaign_choices(session: Session, principal: Principal, *, definitions: list[str] | None = None,
                     limit: int = 500) -> list[dict[str, Any]]:
    """The caller's campaigns as choices of a picker (newest year first, then by township code), optionally
    only those of some definitions; the label names the year, the township and the definition."""
    stmt = _with_township(principal)
    if definitions is not None:
        stmt = stmt.where(col(Campaign.definition_key).in_(definitions))
    rows = session.exec(stmt.order_by(col(Campaign.year).desc(), col(OrgUnit.code)).limit(limit)).all()
    return [{"id": c.id, "year": c.year, "township_name": t.name, "definition_name": definition_name(c.definition_key)}
            for c, t in rows]
