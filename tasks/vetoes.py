"""One-vote veto bans (一票否决, 001_f75fa13ad74f73f9.txt 六个不批(四)): "出现'四个一票否决'现象的不批，并且在三年之内
不得申报". A veto bars the applicant (申报对象) — the unit the vetoed application was about: the village it named,
or the township when it named none — from the same gate's applications until the last year of the ban
(``Veto.banned_until_year``, the vetoed campaign's year plus the gate's ``veto_ban_years``). A township's ban
covers its villages too, so that a new application cannot slip through by naming a village.

The ban holds on every path into an application: creating it, editing a draft, submitting, the draft the
calendar opens (the tick waives the deadline instead: nobody is asked for what they may not do) and the
一村一策 import. Each refusal names the veto, its date and the year the ban ends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session, col, select

from domain.definitions import Definition
from domain.errors import PermissionDenied
from domain.vocabulary import ObligationStatus, zh_date
from models import Campaign, Obligation, OrgUnit, Stage, Submission, Veto
from tasks.audit import append_event

WAIVABLE = (ObligationStatus.SCHEDULED, ObligationStatus.OPEN, ObligationStatus.MISSED)


@dataclass(frozen=True)
class Ban:
    """A veto in force: which gate of which definition it bars, for whom, until when."""

    veto: Veto
    gate_key: str
    applicant: str  # the barred unit's name
    from_year: int  # the year of the vetoed campaign

    def bars(self, definition_key: str, gate_key: str, year: int, applicant_id: int, township_id: int) -> bool:
        """Whether it bars an application to ``gate_key`` in a campaign of ``year`` by ``applicant_id`` (a
        village or the township ``township_id`` itself)."""
        return (self.veto.definition_key == definition_key and self.gate_key == gate_key
                and self.from_year <= year <= self.veto.banned_until_year
                and self.veto.subject_id in (applicant_id, township_id))


def bans(session: Session, definition_key: str | None = None) -> list[Ban]:
    """Every veto with the gate of the application it failed (of one definition, or all), oldest first."""
    stmt = (select(Veto, Submission.gate_key, OrgUnit.name, Campaign.year)
            .join(Submission, col(Veto.submission_id) == Submission.id)
            .join(Campaign, col(Submission.campaign_id) == Campaign.id)
            .join(OrgUnit, col(Veto.subject_id) == OrgUnit.id)
            .order_by(col(Veto.id)))
    if definition_key is not None:
        stmt = stmt.where(Veto.definition_key == definition_key)
    return [Ban(veto, gate_key or "", name, year) for veto, gate_key, name, year in session.exec(stmt)]


def ban_for(found: Sequence[Ban], definition_key: str, gate_key: str, year: int, applicant_id: int,
            township_id: int) -> Ban | None:
    """The ban among ``found`` that lasts longest over this application, if any."""
    barring = [b for b in found if b.bars(definition_key, gate_key, year, applicant_id, township_id)]
    return max(barring, key=lambda b: b.veto.banned_until_year, default=None)


def ban_message(definition: Definition, ban: Ban) -> str:
    """The refusal: the veto (the check it failed and why), its date, and the last year of the ban."""
    gate = next((g for g in definition.gates if g.key == ban.gate_key), None)
    check = next((c.name for c in gate.checks if c.key == ban.veto.check_key), ban.veto.check_key) if gate else ban.veto.check_key
    reason = f"；理由：{ban.veto.reason}" if ban.veto.reason else ""
    return (f"{ban.applicant}因一票否决不得申报“{gate.name if gate else ban.gate_key}”："
            f"{zh_date(ban.veto.created_at)}否决（审查项：{check}{reason}），"
            f"{ban.veto.banned_until_year}年（含）以前不得再次申报")


def refuse_if_barred(session: Session, definition: Definition, campaign: Campaign, gate_key: str | None,
                     applicant_id: int) -> None:
    """403 naming the veto when a ban bars ``applicant_id`` from ``gate_key`` in this campaign's year."""
    if not gate_key:
        return
    ban = ban_for(bans(session, definition.key), definition.key, gate_key, campaign.year, applicant_id,
                  campaign.township_id)
    if ban is not None:
        raise PermissionDenied(ban_message(definition, ban))


def waive(session: Session, obligation: Obligation, township_id: int, ban: Ban, now: dt.datetime,
          actor: tuple[int | None, str] = (None, "system")) -> None:
    """Mark a barred application's deadline 不适用 (it is neither reminded nor escalated), audited."""
    before = {"status": obligation.status}
    obligation.status = ObligationStatus.WAIVED
    obligation.met_on = None
    obligation.version += 1
    session.add(obligation)
    append_event(session, actor_id=actor[0], actor=actor[1], action="obligation.waived", subject_type="obligation",
                 subject_id=obligation.id or 0, township_id=township_id, before=before,
                 after={"status": ObligationStatus.WAIVED, "veto_id": ban.veto.id,
                        "banned_until_year": ban.veto.banned_until_year}, now=now)


def waive_barred(session: Session, definition: Definition, ban: Ban, now: dt.datetime,
                 actor: tuple[int | None, str]) -> int:
    """At a veto: every deadline of an application the ban now bars (this campaign's and those of the campaigns
    already launched for the ban's years) is waived. Returns how many."""
    gate = definition.gate(ban.gate_key)
    rows = session.exec(
        select(Obligation, Campaign)
        .join(Campaign, col(Obligation.campaign_id) == Campaign.id)
        .join(Stage, col(Obligation.stage_id) == Stage.id)
        .where(Campaign.definition_key == definition.key, col(Campaign.year) >= ban.from_year,
               col(Campaign.year) <= ban.veto.banned_until_year,
               Stage.gate_key == ban.gate_key, col(Obligation.status).in_(WAIVABLE))
    ).all()
    waived = 0
    for obligation, campaign in rows:
        rule = definition.obligation(obligation.rule_key)
        if rule.form == gate.form and ban.bars(definition.key, ban.gate_key, campaign.year, obligation.subject_id,
                                               campaign.township_id):
            waive(session, obligation, campaign.township_id, ban, now, actor)
            waived += 1
    return waived
