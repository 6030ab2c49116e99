"""Importing cadres and leaders (驻村干部、挂点领导, 003 三(一)(二)) from Excel: the columns of the CSV import,
English or Chinese headers, every row checked by :mod:`tasks.cadres` before anything is written."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session

from domain.errors import ValidationFailed
from tasks.accounts import Principal
from tasks.audit import append_event
from tasks.cadres import IMPORTERS
from tasks.ledger.excel import cell_text, map_header, normalise, read_xlsx
from tasks.ledger.imports import reject_rows

PEOPLE_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "cadre": {
        "code": ("编码", "干部编码", "人员编码"), "name": ("姓名",), "unit": ("派出单位编码", "单位编码", "派出单位"),
        "post": ("职务",), "phone": ("联系电话", "电话", "手机"),
    },
    "leader": {
        "code": ("编码", "领导编码"), "name": ("姓名",), "level": ("级别", "领导级别"), "post": ("职务",),
        "phone": ("联系电话", "电话", "手机"), "village": ("联系村编码", "挂点村编码", "包村编码"),
    },
}
WHAT_LABEL = {"cadre": "驻村干部", "leader": "挂点领导"}
LEVEL_ALIASES = {"县领导": "county", "县级": "county", "县": "county", "镇领导": "township", "镇级": "township",
                 "乡镇": "township", "镇": "township"}
OPTIONAL = {"phone"}


def import_people_xlsx(session: Session, principal: Principal, now: dt.datetime, what: str, content: bytes,
                       filename: str | None = None) -> dict[str, Any]:
    """Cadres (``what="cadre"``) or leaders (``"leader"``) from a workbook, all rows or none. Administrators only."""
    principal.require_role("admin")
    columns, label = PEOPLE_COLUMNS[what], WHAT_LABEL[what]
    header, rows = read_xlsx(content, filename)
    known = {normalise(k): k for k in columns} | {normalise(a): k for k, aliases in columns.items() for a in aliases}
    by_index, written, errors, _ = map_header(header, known, f"{label}导入", ignore_unknown=False)
    for key in columns.keys() - OPTIONAL - written.keys():
        errors.append({"row": 1, "column": columns[key][0], "message": f"缺少必填列“{columns[key][0]}”（{key}）"})
    if not errors and not rows:
        errors.append({"row": 2, "column": "（整行）", "message": "表中没有数据行"})
    if errors:
        raise reject_rows(errors, label)
    parsed = []
    for number, cells in rows:
        raw: dict[str, Any] = {key: cell_text(cells[i] if i < len(cells) else None) for i, key in by_index.items()}
        level = raw.get("level")
        if isinstance(level, str):
            raw["level"] = LEVEL_ALIASES.get(level, level.lower())
        parsed.append((number, {k: v for k, v in raw.items() if v is not None}))
    try:
        result = IMPORTERS[what](session, parsed)
    except ValidationFailed as exc:
        raise reject_rows([{"row": e["line"], "column": written.get(e["field"], columns.get(e["field"], (e["field"],))[0]),
                        "message": e["message"]} for e in exc.errors], label) from None
    append_event(session, actor_id=principal.user.id, actor=principal.user.username, action=f"{what}.import",
                 subject_type=what, subject_id=0, township_id=None, before=None,
                 after={"file": filename, "rows": len(parsed), **result}, now=now)
    return {"rows": len(parsed), **result}
