"""A list of assigned items from Excel (交办事项清单), all rows or none: every row is checked as the API checks an
item (its fields, its deadline, its townships) before any is assigned; the errors name the row and the column."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session

from core.clock import china_date
from domain.errors import DubanError
from domain.vocabulary import ItemFeedback, ItemReview, ItemSource
from models.desk import ItemIn
from tasks.accounts import Principal
from tasks.audit import append_event
from tasks.desk.items import assign, check_item
from tasks.ledger.excel import cell_text, map_header, normalise, read_xlsx
from tasks.ledger.imports import reject_rows

COLUMNS: dict[str, tuple[str, ...]] = {
    "title": ("事项名称", "交办事项", "事项"), "source": ("来源", "事项来源"), "document_number": ("文号", "来源文号"),
    "requirement": ("办理要求", "工作要求", "具体要求"), "townships": ("承办乡镇", "交办对象", "乡镇编码"),
    "due_on": ("办理期限", "完成时限", "期限"), "due_workdays": ("签收后工作日数", "办理工作日数"),
    "feedback": ("反馈方式", "反馈"), "review": ("审核流程", "审核"),
}
REQUIRED = ("title", "source", "requirement", "townships")
ALL = {"全部", "全部乡镇", "所有乡镇", "all"}


def _by_label(value: str | None, labels: dict[str, str]) -> str | None:
    """A Chinese label (or its leading words: 领导批示, 每月) or the code itself."""
    if value is None:
        return None
    for code, label in labels.items():
        if value in (code, label) or label.startswith(value):
            return code
    return value


def _row(raw: dict[str, Any]) -> dict[str, Any]:
    towns = str(raw.get("townships") or "")
    codes = [c.strip() for c in towns.replace("，", ",").replace("、", ",").split(",") if c.strip()]
    return {
        "title": raw.get("title") or "", "source": _by_label(raw.get("source"), ItemSource.labels()),
        "document_number": raw.get("document_number"), "requirement": raw.get("requirement") or "",
        "townships": None if towns.strip() in ALL else codes, "all_townships": towns.strip() in ALL,
        "due_on": raw.get("due_on"), "due_workdays": raw.get("due_workdays"),
        "feedback": _by_label(raw.get("feedback"), ItemFeedback.labels()) or ItemFeedback.ONCE,
        "review": _by_label(raw.get("review"), ItemReview.labels()) or ItemReview.TOWNSHIP_COUNTY,
    }


def _checked(session: Session, rows: list[tuple[int, list[Any]]], by_index: dict[int, str], written: dict[str, str],
             today: dt.date) -> tuple[list[ItemIn], list[dict[str, Any]]]:
    items, errors = [], []
    for number, cells in rows:
        raw = {key: cell_text(cells[i] if i < len(cells) else None) for i, key in by_index.items()}
        try:
            body = ItemIn.model_validate(_row(raw))
            check_item(session, body, today)
            items.append(body)
        except ValidationError as exc:
            for e in exc.errors():
                field = str(e["loc"][0]) if e["loc"] else "title"
                errors.append({"row": number, "column": written.get(field, COLUMNS.get(field, (field,))[0]),
                               "message": e["msg"]})
        except DubanError as exc:
            field = exc.errors[0]["field"] if exc.errors else "title"
            errors.append({"row": number, "column": written.get(field, COLUMNS.get(field, (field,))[0]),
                           "message": exc.detail})
    return items, errors


def import_items_xlsx(session: Session, principal: Principal, now: dt.datetime, content: bytes,
                      filename: str | None = None) -> dict[str, Any]:
    """Assign every item of the workbook, or none (administrators)."""
    principal.require_role("admin")
    header, rows = read_xlsx(content, filename)
    known = {normalise(k): k for k in COLUMNS} | {normalise(a): k for k, aliases in COLUMNS.items() for a in aliases}
    by_index, written, errors, _ = map_header(header, known, "交办事项导入", ignore_unknown=False)
    for key in REQUIRED:
        if key not in written:
            errors.append({"row": 1, "column": COLUMNS[key][0], "message": f"缺少必填列“{COLUMNS[key][0]}”"})
    if not errors and not rows:
        errors.append({"row": 2, "column": "（整行）", "message": "表中没有数据行"})
    if errors:
        raise reject_rows(errors, "交办事项")
    items, errors = _checked(session, rows, by_index, written, china_date(now))
    if errors:
        raise reject_rows(errors, "交办事项")
    assigned = [assign(session, principal, now, body) for body in items]
    append_event(session, actor_id=principal.user.id, actor=principal.user.username, action="desk.import",
                 subject_type="assigned_item", subject_id=assigned[0].id or 0, township_id=None, before=None,
                 after={"file": filename, "items": [a.id for a in assigned]}, now=now)
    return {"rows": len(assigned), "items": [a.id for a in assigned]}
