"""The 督办 desk ledger (交办事项台账): one row per recipient of an assigned item, exactly the rows
``GET /api/v1/desk/recipients`` returns (same scope and filters), with its light, its sign-for time, how late it
closed, and its extension (原定期限, 延期至, 理由, 批准人)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from core.clock import china_date, get_clock
from domain.vocabulary import ExtensionStatus
from models import User
from tasks.accounts import Principal
from tasks.calendar import load_work_calendar
from tasks.desk.records import recipient_rows
from tasks.ledger.excel import Column
from tasks.ledger.registry import Ledger, LedgerFilters, Rows, register


def _extension(row: dict[str, Any], names: dict[int, str]) -> dict[str, Any]:
    granted = [e for e in row["extension_requests"] if e["status"] == ExtensionStatus.APPROVED]
    last = granted[-1] if granted else None
    asked = row["extension_requests"][-1] if row["extension_requests"] else None
    return {
        "extended_to": last["proposed_on"] if last else None, "extension_reason": last["reason"] if last else "",
        "extension_approver": names.get(last["decided_by"] or 0, "") if last else "",
        "extension_state": asked["status_label"] if asked else "",
    }


def desk_rows(session: Session, principal: Principal, filters: LedgerFilters) -> Rows:
    """As ``GET /api/v1/desk/recipients`` with the same township and year. The lights are those of today on the
    service's clock (the one the API's ``ClockDep`` gives; ledger queries take no time of their own)."""
    today = china_date(get_clock().now())
    rows = recipient_rows(session, principal, today, load_work_calendar(session), township=filters.township,
                          year=filters.year)
    ids = {e["decided_by"] for r in rows for e in r["extension_requests"] if e["decided_by"]}
    names = {u.id or 0: u.display_name for u in session.exec(select(User).where(col(User.id).in_(ids)))} if ids else {}
    return [r | _extension(r, names) for r in rows]


COLUMNS = (
    Column("编号", "number"), Column("交办事项", "title", width=30), Column("来源", "source_label"),
    Column("承办乡镇", "township_name"), Column("交办时间", "assigned_at", "datetime"),
    Column("签收时间", "acknowledged_at", "datetime"), Column("原定期限", "original_due_on", "date"),
    Column("延期至", "extended_to", "date"), Column("延期理由", "extension_reason", width=30),
    Column("批准人", "extension_approver"), Column("延期申请状态", "extension_state"),
    Column("办理期限", "due_on", "date"), Column("状态", "status_label"), Column("督办灯", "light_label"),
    Column("办结日期", "closed_on", "date"), Column("逾期天数", "days_late", "int"),
    Column("督办层级", "escalation_level", "int"),
)

register(Ledger(
    name="desk", title="交办事项", columns=COLUMNS, rows=desk_rows, filters=frozenset({"township", "year"}),
    description="督办台交办事项：承办乡镇、签收、期限、延期（原定期限、延期至、理由、批准人）、督办灯和办结情况。",
))
