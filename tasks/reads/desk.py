"""Reads of the 督办 desk: items with their recipients and lights, requests waiting for the caller's decision,
bulletins, and the yearly score of each township (``tasks.desk``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from domain import desk as rules
from domain.vocabulary import BulletinStatus, ExtensionStatus, ItemFeedback, ItemReview, ItemSource
from models import Obligation, OrgUnit
from models.desk import AssignedItem, Bulletin, ExtensionRequest, ItemRecipient
from tasks.accounts import Principal
from tasks.calendar import load_work_calendar
from tasks.desk.items import load_item
from tasks.desk.records import extension_dict, feedback_behind, recipient_rows, township_records
from tasks.desk.settings import desk_settings, item_number
from tasks.reads import Page
from tasks.scope import scoped


def item_dict(item: AssignedItem) -> dict[str, Any]:
    return {
        "id": item.id, "number": item_number(item.year, item.seq), "year": item.year, "title": item.title,
        "source": item.source, "source_label": ItemSource.label_of(item.source),
        "document_number": item.document_number, "requirement": item.requirement, "due_on": item.due_on,
        "due_workdays": item.due_workdays, "feedback": item.feedback, "feedback_label": ItemFeedback.label_of(item.feedback),
        "review": item.review, "review_label": ItemReview.label_of(item.review), "ack_workdays": item.ack_workdays,
        "max_extensions": item.max_extensions, "attachment": item.attachment_name, "created_at": item.created_at,
    }


def get_item(session: Session, principal: Principal, item_id: int, today: dt.date) -> dict[str, Any]:
    """One item with its recipients (those the caller may see), each with its light."""
    item = load_item(session, principal, item_id)
    recipients = recipient_rows(session, principal, today, load_work_calendar(session), item_id=item_id)
    return item_dict(item) | {"recipients": recipients}


def list_items(session: Session, principal: Principal, today: dt.date, *, year: int | None = None,
               limit: int = 100, offset: int = 0) -> Page[dict[str, Any]]:
    """Items the caller may see, newest first, with the count of recipients by light and status."""
    stmt = select(AssignedItem).order_by(col(AssignedItem.id).desc())
    if year is not None:
        stmt = stmt.where(AssignedItem.year == year)
    if principal.townships is not None:
        mine = scoped(select(ItemRecipient.item_id), principal, ItemRecipient.township_id)
        stmt = stmt.where(col(AssignedItem.id).in_(mine))
    items = list(session.exec(stmt))
    rows = recipient_rows(session, principal, today, load_work_calendar(session), year=year)
    by_item: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_item.setdefault(row["item_id"], []).append(row)
    out = []
    for item in items[offset:offset + limit]:
        mine_rows = by_item.get(item.id or 0, [])
        lights = {colour: sum(1 for r in mine_rows if r["light"] == colour) for colour in ("green", "yellow", "red")}
        out.append(item_dict(item) | {"recipients": len(mine_rows), "lights": lights,
                                      "closed": sum(1 for r in mine_rows if r["status"] in ("closed", "closed_late"))})
    return Page(out, len(items), limit, offset)


def waiting_extensions(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Extension requests waiting for the caller: a township reviewer's own township's first step, the office's
    (administrators') second step."""
    user = principal.user
    if user.role == "admin":
        status = ExtensionStatus.PENDING_COUNTY
    elif user.role == "reviewer" and user.level == "township":
        status = ExtensionStatus.PENDING_TOWNSHIP
    else:
        return []
    stmt = scoped(select(ExtensionRequest, AssignedItem, OrgUnit)
                  .join(AssignedItem, col(ExtensionRequest.item_id) == AssignedItem.id)
                  .join(OrgUnit, col(ExtensionRequest.township_id) == OrgUnit.id)
                  .where(ExtensionRequest.status == status), principal, ExtensionRequest.township_id)
    return [extension_dict(e) | {"item_id": i.id, "number": item_number(i.year, i.seq), "title": i.title,
                                 "township": u.code, "township_name": u.name}
            for e, i, u in session.exec(stmt.order_by(col(ExtensionRequest.id)))]


def scores(session: Session, principal: Principal, year: int, today: dt.date) -> dict[str, Any]:
    """Each township's score for ``year`` (to ``today`` in the current year), with the rule beside it."""
    end = min(dt.date(year, 12, 31), today) if year == today.year else dt.date(year, 12, 31)
    records = township_records(session, dt.date(year, 1, 1), end)
    weights = desk_settings().weights
    stmt = scoped(select(OrgUnit).where(OrgUnit.kind == "township"), principal, OrgUnit.id)
    items = []
    for town in session.exec(stmt.order_by(col(OrgUnit.code))):
        record = records.get(town.id or 0, rules.TownshipRecord())
        rate = record.on_time_rate
        items.append({"township": town.code, "township_name": town.name, "assigned": record.assigned,
                      "on_time": record.on_time, "late": record.late, "overdue": record.overdue,
                      "extensions": record.extensions, "levels": record.levels, "cases": record.cases,
                      "on_time_rate": None if rate is None else round(rate * 100, 1),
                      "score": rules.score(record, weights)})
    return {"year": year, "rule": weights.rule(), "items": items}


def bulletin_dict(b: Bulletin) -> dict[str, Any]:
    return {"id": b.id, "title": b.title, "period_start": b.period_start, "period_end": b.period_end,
            "intro": b.intro, "best": b.best, "worst": b.worst, "rows": b.rows, "status": b.status,
            "status_label": BulletinStatus.label_of(b.status), "document_id": b.document_id,
            "pdf": f"/api/v1/documents/{b.document_id}/pdf" if b.document_id else None,
            "published_at": b.published_at, "version": b.version}


def list_bulletins(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Bulletins newest first; a township sees the published ones."""
    stmt = select(Bulletin).order_by(col(Bulletin.period_start).desc())
    if principal.townships is not None:
        stmt = stmt.where(Bulletin.status == BulletinStatus.PUBLISHED)
    return [bulletin_dict(b) for b in session.exec(stmt)]


def year_scores(session: Session, year: int) -> dict[str, dict[str, Any]]:
    """Each township's score of ``year`` as the year-end assessment shows it (as the year ends), by township code,
    with the rule beside it."""
    records = township_records(session, dt.date(year, 1, 1), dt.date(year, 12, 31))
    weights = desk_settings().weights
    out = {}
    for town in session.exec(select(OrgUnit).where(OrgUnit.kind == "township")):
        record = records.get(town.id or 0, rules.TownshipRecord())
        out[town.code] = {"score": rules.score(record, weights), "rule": weights.rule(), "assigned": record.assigned,
                          "on_time": record.on_time, "late": record.late, "overdue": record.overdue,
                          "extensions": record.extensions, "levels": record.levels, "cases": record.cases}
    return out


_LIGHTS = (sa_select(col(ItemRecipient.item_id), col(Obligation.status), col(Obligation.due_on), col(OrgUnit.id),
                  col(OrgUnit.code), col(OrgUnit.name))
           .join(AssignedItem, col(ItemRecipient.item_id) == AssignedItem.id)
           .join(Obligation, col(ItemRecipient.obligation_id) == Obligation.id)
           .join(OrgUnit, col(ItemRecipient.township_id) == OrgUnit.id))
"""What a recipient's light needs (``recipient_rows`` without the rest of the row), as plain columns."""


def light_counts(session: Session, principal: Principal, today: dt.date) -> list[dict[str, Any]]:
    """Per township (in scope) the open assigned items by light, for the dashboard; townships with none left out.
    The lights are those of ``recipient_rows``; the calendar is read only when there is a recipient."""
    rows = session.execute(scoped(_LIGHTS, principal, ItemRecipient.township_id)).all()
    if not rows:
        return []
    behind = feedback_behind(session, list({item_id for item_id, *_ in rows}), today)
    calendar = load_work_calendar(session)
    yellow = desk_settings().yellow_workdays
    counts: dict[str, dict[str, Any]] = {}
    for item_id, status, due_on, township_id, code, name in rows:
        colour = rules.light(status, due_on, today, calendar, yellow_workdays=yellow,
                             feedback_behind=(item_id, township_id) in behind)
        if colour:
            line = counts.setdefault(code, {"township": code, "township_name": name, "green": 0, "yellow": 0, "red": 0})
            line[colour.value] += 1
    return [counts[code] for code in sorted(counts)]
