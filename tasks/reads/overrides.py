"""Overrides (例外批准): gate submissions an administrator approved although checks failed, with the written
reason, as the caller may see them. The year-end assessment (年度考核) of a township lists those of its year."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from models import Campaign, GateOverride, OrgUnit, Submission
from tasks.accounts import Principal
from tasks.reads.org_units import units_by_id
from tasks.reads.submissions import user_names
from tasks.registry import definition_of
from tasks.scope import scoped


def overrides(session: Session, principal: Principal, *, township_id: int, year: int) -> list[dict[str, Any]]:
    """The overrides of township ``township_id`` decided in ``year`` (China time), oldest first; empty for a
    township outside the caller's scope. Each names the submission, its campaign and gate, the level, who
    decided, when, the checks passed over (with their reasons and evidence) and the reason written."""
    stmt = scoped(_joined().where(GateOverride.township_id == township_id, GateOverride.year == year),
                  principal, GateOverride.township_id)
    return _present(session, list(session.exec(stmt.order_by(col(GateOverride.id)))))


def of_campaigns(session: Session, *, township_id: int, campaign_year: int) -> list[dict[str, Any]]:
    """The overrides in township ``township_id``'s campaigns of ``campaign_year`` (the year-end assessment's
    view; its caller has checked the township is in scope), oldest first."""
    stmt = _joined().where(GateOverride.township_id == township_id, Campaign.year == campaign_year)
    return _present(session, list(session.exec(stmt.order_by(col(GateOverride.id)))))


def _joined() -> Any:
    return (select(GateOverride, Submission, Campaign)
            .join(Submission, col(GateOverride.submission_id) == Submission.id)
            .join(Campaign, col(GateOverride.campaign_id) == Campaign.id))


def _present(session: Session, rows: list[Any]) -> list[dict[str, Any]]:
    units = units_by_id(session, {sub.subject_id for _, sub, _ in rows} | {sub.township_id for _, sub, _ in rows})
    people = user_names(session, {row.created_by for row, _, _ in rows})
    out = []
    for row, sub, campaign in rows:
        definition = definition_of(campaign)
        out.append({
            "id": row.id, "submission_id": row.submission_id, "title": sub.title, "campaign_id": row.campaign_id,
            "campaign_year": campaign.year, "definition": campaign.definition_key,
            "definition_name": definition.name if definition else campaign.definition_key, "gate": row.gate_key,
            "gate_name": definition.gate(row.gate_key).name if definition else row.gate_key,
            "township_name": _name(units, sub.township_id), "subject_name": _name(units, sub.subject_id),
            "level_name": row.level_name, "decided_by": people.get(row.created_by), "decided_at": row.created_at,
            "checks": row.checks, "reason": row.reason,
        })
    return out


def _name(units: dict[int, OrgUnit], unit_id: int) -> str | None:
    unit = units.get(unit_id)
    return unit.name if unit else None
