"""Escalations (督办) as the caller may see them: lists, the county-wide ledger, one step with its history."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlmodel import Session, col, select

from domain.definitions import TRIGGER_LABELS
from domain.vocabulary import EscalationStatus
from models import AccountabilityCase, Escalation, OfficialDocument, OrgUnit
from tasks import escalation as service
from tasks.accounts import Principal
from tasks.reads import Page, fetch_page, where_given
from tasks.reads.documents import document_ref, documents_by_id
from tasks.reads.org_units import in_township, townships, units_by_id
from tasks.scope import scoped

NEWEST_FIRST = (col(Escalation.created_at).desc(), col(Escalation.id).desc())


def escalation_public(esc: Escalation, units: dict[int, OrgUnit], documents: dict[int, OfficialDocument],
                      case_ids: dict[int, int]) -> dict[str, Any]:
    township = units.get(esc.township_id)
    subject = units.get(esc.subject_id or 0)
    document = documents.get(esc.document_id or 0)
    return {
        "id": esc.id, "campaign_id": esc.campaign_id, "township": township.code if township else None,
        "township_name": township.name if township else None, "subject": subject.code if subject else None,
        "subject_name": subject.name if subject else None, "trigger": esc.trigger,
        "trigger_label": TRIGGER_LABELS.get(esc.trigger, esc.trigger), "level": esc.level, "level_key": esc.level_key,
        "level_name": esc.level_name or esc.level_key, "status": esc.status,
        "status_label": EscalationStatus.label_of(esc.status), "reason": esc.reason,
        "evidence": esc.evidence or {}, "obligation_id": esc.obligation_id, "submission_id": esc.submission_id,
        "rectification_id": esc.rectification_id, "due_on": esc.due_on, "new_due_on": esc.new_due_on,
        "document": document_ref(document) if document else None,
        "interview": {"on": esc.interview_on, "place": esc.interview_place, "outcome": esc.interview_outcome}
        if esc.interview_on else None,
        "resolution": esc.resolution, "days_late": esc.days_late, "resolved_at": esc.resolved_at,
        "case_id": case_ids.get(esc.id or 0), "created_at": esc.created_at, "version": esc.version,
    }


def present(session: Session, rows: list[Escalation]) -> list[dict[str, Any]]:
    """The rows as the API shows them, their units, documents and cases loaded in three queries."""
    units = units_by_id(session, {e.township_id for e in rows} | {e.subject_id for e in rows if e.subject_id})
    documents = documents_by_id(session, [e.document_id for e in rows if e.document_id])
    ids = [e.id for e in rows]
    case_ids = {c.escalation_id: c.id or 0 for c in session.exec(
        select(AccountabilityCase).where(col(AccountabilityCase.escalation_id).in_(ids)))} if ids else {}
    return [escalation_public(e, units, documents, case_ids) for e in rows]


def _filtered(session: Session, principal: Principal, *, level: int | None, township: str | None, status: str | None,
              trigger: str | None, campaign: int | None) -> Any:
    """The one filter behind the list, its count and the web page: the caller's townships, then the request's.
    ``status="live"`` means still being chased (open or escalated)."""
    stmt = in_township(session, principal, select(Escalation), Escalation.township_id, township)
    if status == "live":
        stmt, status = stmt.where(col(Escalation.status).in_(service.LIVE)), None
    return where_given(stmt, (Escalation.level, level), (Escalation.status, status), (Escalation.trigger, trigger),
                       (Escalation.campaign_id, campaign))


def find_escalations(session: Session, principal: Principal, *, level: int | None = None, township: str | None = None,
                     status: str | None = None, trigger: str | None = None,
                     campaign: int | None = None) -> list[Escalation]:
    """Every matching step, newest first (the web page pages through them itself)."""
    stmt = _filtered(session, principal, level=level, township=township, status=status, trigger=trigger,
                     campaign=campaign)
    return list(session.exec(stmt.order_by(*NEWEST_FIRST)))


def list_escalations(session: Session, principal: Principal, *, level: int | None = None, township: str | None = None,
                     status: str | None = None, trigger: str | None = None, campaign: int | None = None,
                     limit: int = 100, offset: int = 0) -> Page[dict[str, Any]]:
    """One page of matching steps, newest first."""
    stmt = _filtered(session, principal, level=level, township=township, status=status, trigger=trigger,
                     campaign=campaign)
    rows, total = fetch_page(session, stmt, *NEWEST_FIRST, limit=limit, offset=offset)
    return Page(present(session, rows), total, limit, offset)


def escalation_ledger(session: Session, principal: Principal) -> dict[str, Any]:
    """Per township of the caller: live escalations per level and accountability cases per status."""
    stmt = scoped(select(Escalation).where(col(Escalation.status).in_([*service.LIVE, "confirmed"])),
                  principal, Escalation.township_id)
    live: dict[int, Counter[str]] = defaultdict(Counter)
    for esc in session.exec(stmt):
        if esc.status != "escalated":  # only the frontier of each chain counts
            live[esc.township_id][esc.level_name or esc.level_key] += 1
    case_counts: dict[int, Counter[str]] = defaultdict(Counter)
    for case in session.exec(scoped(select(AccountabilityCase), principal, AccountabilityCase.township_id)):
        case_counts[case.township_id][case.status] += 1
    rows = []
    for town in townships(session, principal):
        levels = live.get(town.id or 0, Counter())
        counts = case_counts.get(town.id or 0, Counter())
        rows.append({"township": town.code, "township_name": town.name, "open_escalations": sum(levels.values()),
                     "by_level": dict(levels), "cases_open": counts["open"], "cases_decided": counts["decided"],
                     "cases_closed": counts["closed"]})
    return {"items": rows, "open_escalations": sum(r["open_escalations"] for r in rows),
            "cases_open": sum(r["cases_open"] for r in rows)}


def get_escalation(session: Session, principal: Principal, escalation_id: int) -> dict[str, Any]:
    """One step with its document, its case and the history of its chain (every level of the same trigger
    on the same obligation, rectification or submission); 404 outside the caller's townships."""
    esc = service.load(session, principal, escalation_id)
    [out] = present(session, [esc])
    where: list[Any] = [Escalation.campaign_id == esc.campaign_id, Escalation.trigger == esc.trigger]
    for column, value in ((Escalation.obligation_id, esc.obligation_id), (Escalation.rectification_id, esc.rectification_id),
                          (Escalation.submission_id, esc.submission_id)):
        if value is not None:
            where.append(column == value)
    history = list(session.exec(select(Escalation).where(*where).order_by(col(Escalation.level), col(Escalation.id))))
    out["history"] = [{"id": h.id, "level": h.level, "level_name": h.level_name or h.level_key, "status": h.status,
                       "created_at": h.created_at} for h in history]
    return out
