"""Accountability cases (问责) as the caller may see them."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from domain import accountability as case_rules
from domain.definitions import TRIGGER_LABELS
from domain.vocabulary import CaseStatus
from models import AccountabilityCase, OrgUnit
from tasks import accountability
from tasks.accounts import Principal
from tasks.reads import Page, fetch_page, where_given
from tasks.reads.org_units import in_township, units_by_id


def case_public(case: AccountabilityCase, units: dict[int, OrgUnit]) -> dict[str, Any]:
    township = units.get(case.township_id)
    return {
        "id": case.id, "campaign_id": case.campaign_id, "township": township.code if township else None,
        "township_name": township.name if township else None, "escalation_id": case.escalation_id,
        "obligation_id": case.obligation_id, "trigger": case.trigger,
        "trigger_label": TRIGGER_LABELS.get(case.trigger, case.trigger), "target_unit": township.name if township else None,
        "target_persons": case.target_persons, "reason": case.reason, "evidence": case.evidence, "status": case.status,
        "status_label": CaseStatus.label_of(case.status), "decision": case.decision,
        "decision_label": case_rules.DECISIONS.get(case.decision or ""), "decision_note": case.decision_note,
        "suspension_days": case.suspension_days, "rating_effect": case.rating_effect,
        "rating_effect_label": case_rules.RATING_EFFECT_LABELS.get(case.rating_effect or ""),
        "rating_year": case.rating_year, "decided_at": case.decided_at, "closed_at": case.closed_at,
        "close_note": case.close_note, "created_at": case.created_at, "version": case.version,
    }


def present_case(session: Session, case: AccountabilityCase) -> dict[str, Any]:
    """One case as the API shows it."""
    return case_public(case, units_by_id(session, {case.township_id}))


def list_cases(session: Session, principal: Principal, *, status: str | None = None, township: str | None = None,
               limit: int = 100, offset: int = 0) -> Page[dict[str, Any]]:
    """Cases of the caller's townships, newest first, filtered by status and township code."""
    stmt = where_given(in_township(session, principal, select(AccountabilityCase), AccountabilityCase.township_id,
                                   township), (AccountabilityCase.status, status))
    rows, total = fetch_page(session, stmt, col(AccountabilityCase.id).desc(), limit=limit, offset=offset)
    units = units_by_id(session, {c.township_id for c in rows})
    return Page([case_public(c, units) for c in rows], total, limit, offset)


def get_case(session: Session, principal: Principal, case_id: int) -> dict[str, Any]:
    """One case with its evidence; 404 outside the caller's townships."""
    return present_case(session, accountability.load(session, principal, case_id))
