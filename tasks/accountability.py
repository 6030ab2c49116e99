"""Accountability cases (问责): the administrator's decision, closing, and what ratings must read."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from sqlmodel import Session, col, select

from core.clock import china_date
from domain import accountability as rules
from domain.vocabulary import CaseStatus
from models import AccountabilityCase, OrgUnit
from tasks.accounts import Principal
from tasks.locking import Audit, require_version, save_versioned
from tasks.scope import scoped, visible

WHAT = "问责案件"  # how a stale-version answer names a case


def _state(case: AccountabilityCase) -> rules.CaseState:
    return rules.CaseState(status=case.status, decision=case.decision, rating_effect=case.rating_effect,
                           rating_year=case.rating_year, suspension_days=case.suspension_days)


def load(session: Session, principal: Principal, case_id: int) -> AccountabilityCase:
    """The case if the caller may see its township; 404 otherwise (never 403)."""
    case = session.get(AccountabilityCase, case_id)
    return visible(principal, case, case.township_id if case else None, f"没有编号为 {case_id} 的问责案件")


def _save(session: Session, principal: Principal, now: dt.datetime, case: AccountabilityCase, version: int | None,
          values: dict[str, Any], *, action: str, before: rules.CaseState, after: dict[str, Any]) -> None:
    """Write the decision and its audit event if the case is still at the ``version`` it was decided on."""
    expected = require_version(case, version, what=WHAT)
    save_versioned(session, case, expected, values, what=WHAT, audit=Audit(
        principal, f"case.{action}", "accountability_case", case.township_id, asdict(before), after, now))


def decide(session: Session, principal: Principal, now: dt.datetime, case_id: int, *, decision: str, note: str,
           rating_year: int | None, suspension_days: int | None, version: int | None) -> AccountabilityCase:
    """Enter the decision (诫勉谈话, 通报批评, rating downgrade, 歇职, or none) on an open case."""
    case = load(session, principal, case_id)  # outside scope: 404 before anything else
    principal.require_role("admin")
    before = _state(case)
    year = rating_year or china_date(now).year
    new = rules.decide(before, decision, note, year, suspension_days)
    _save(session, principal, now, case, version,
          asdict(new) | {"decision_note": note.strip(), "decided_by": principal.user.id, "decided_at": now},
          action="decide", before=before, after=asdict(new) | {"note": note.strip()})
    return case


def close(session: Session, principal: Principal, now: dt.datetime, case_id: int, *, note: str,
          version: int | None) -> AccountabilityCase:
    case = load(session, principal, case_id)  # outside scope: 404 before anything else
    principal.require_role("admin")
    before = _state(case)
    new = rules.close(before, note)
    _save(session, principal, now, case, version,
          {"status": new.status, "close_note": note.strip(), "closed_by": principal.user.id, "closed_at": now},
          action="close", before=before, after={"status": new.status, "note": note.strip()})
    return case


def rating_consequences(session: Session, principal: Principal, year: int) -> list[dict[str, Any]]:
    """What year-end ratings must respect: per township, the decided cases that cap its rating."""
    stmt = (select(AccountabilityCase, OrgUnit).join(OrgUnit, col(AccountabilityCase.township_id) == OrgUnit.id)
            .where(AccountabilityCase.rating_year == year, col(AccountabilityCase.rating_effect).is_not(None),
                   col(AccountabilityCase.status).in_([CaseStatus.DECIDED, CaseStatus.CLOSED])))
    stmt = scoped(stmt, principal, AccountabilityCase.township_id)
    by_township: dict[int, dict[str, Any]] = {}
    for case, township in session.exec(stmt.order_by(col(OrgUnit.code), col(AccountabilityCase.id))):
        entry = by_township.setdefault(township.id or 0, {
            "township": township.code, "township_name": township.name, "year": year, "cap": None, "cap_label": None,
            "cases": []})
        entry["cases"].append({"id": case.id, "decision": case.decision, "rating_effect": case.rating_effect})
        # the strictest effect wins: "not excellent or good" is stricter than "not excellent"
        if entry["cap"] != "not_excellent_or_good":
            entry["cap"] = case.rating_effect
            entry["cap_label"] = rules.RATING_EFFECT_LABELS.get(case.rating_effect or "")
    return list(by_township.values())
