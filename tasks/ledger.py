"""Ledgers (台账): every list as an Excel workbook in the county's usual columns, and the org hierarchy and
the 一村一策 plans imported from Excel, every row checked before anything is written.

A ledger is one entry of ``LEDGERS`` (its columns, the filters it accepts and the query that yields its
rows, scoped to the caller exactly like the matching API list); a new ledger such as accountability cases
is one more ``register(Ledger(...))``. The rectification-ledger fields follow 001 (整改台账: content,
responsible person, time limit) and the 一村一策 table of 004.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select, update

from core.clock import CHINA_TZ, china_date
from domain.definitions import TRIGGER_LABELS, Definition, FieldType, Form
from domain.errors import Conflict, DubanError, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from domain.forms import validate_form
from domain.review import EDITABLE
from models import (
    Campaign,
    Escalation,
    Obligation,
    OrgKind,
    OrgUnit,
    OrgUnitIn,
    Stage,
    Submission,
    VillageRectification,
)
from tasks.accounts import Principal
from tasks.audit import append_event, jsonable
from tasks.org import import_org_units
from tasks.registry import get_definitions

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
MAX_IMPORT_ROWS = 5000
MAX_IMPORT_COLUMNS = 60
MAX_ERRORS_IN_DETAIL = 20
DATE_FORMAT = 'yyyy"年"m"月"d"日"'
DATETIME_FORMAT = 'yyyy"年"m"月"d"日" hh:mm'
FILENAME_PREFIX = "督办台账"

CAMPAIGN_STATUS = {"active": "进行中", "completed": "已完成", "cancelled": "已撤销"}
STAGE_STATUS = {
    "pending": "未开始", "open": "进行中", "in_review": "审核中", "in_notice": "公示中", "passed": "已通过",
    "overdue": "已逾期", "vetoed": "已否决", "waived": "不适用",
}
OBLIGATION_STATUS = {
    "scheduled": "未开放", "open": "进行中", "submitted": "已提交", "met": "已完成", "late": "逾期完成",
    "missed": "未完成", "waived": "不适用",
}
ON_TIME = {"met": "是", "late": "否", "missed": "否"}
SUBMISSION_STATUS = {
    "draft": "草稿", "in_review": "审核中", "returned": "已退回", "approved": "已通过", "rejected": "未通过",
    "withdrawn": "已撤回",
}
RECTIFICATION_STATUS = {"rectifying": "整顿中", "applied": "已申请验收", "consolidating": "巩固提升", "closed": "已销号"}
ESCALATION_STATUS = {"open": "督办中", "escalated": "已升级", "resolved": "已办结", "confirmed": "已立案问责",
                     "dismissed": "核实后撤销"}


def label(labels: Mapping[str, str], code: str | None) -> str:
    """The Chinese label of a status code (the code itself when it has none)."""
    return labels.get(code, code) if code else ""


# ---- the generic writer -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of a ledger: its Chinese header, the row key it shows and how its cells are typed."""

    header: str
    key: str
    kind: str = "text"  # text | int | date | datetime
    width: int | None = None


def _display_width(value: Any) -> int:
    text = value if isinstance(value, str) else str(value)
    longest = max((len(line) + sum(1 for ch in line if ord(ch) > 0x2E7F) for line in text.splitlines()), default=0)
    return longest


def _sheet_title(title: str) -> str:
    return re.sub(r"[\[\]:*?/\\]", "_", title)[:31] or "台账"


def _cell_value(kind: str, value: Any) -> Any:
    if value is None or value == "":
        return None
    if kind == "datetime" and isinstance(value, dt.datetime):
        # Excel has no time zones: the county reads China time.
        return value.astimezone(CHINA_TZ).replace(tzinfo=None) if value.tzinfo else value
    if kind == "date" and isinstance(value, dt.datetime):
        return value.astimezone(CHINA_TZ).date() if value.tzinfo else value.date()
    if kind == "date" and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.date | int | float) and not isinstance(value, bool):
        return value
    return ILLEGAL_CHARACTERS_RE.sub("", str(value))


def write_workbook(title: str, columns: Sequence[Column], rows: Iterable[Mapping[str, Any]]) -> bytes:
    """One sheet: a bold, frozen, filterable header row of Chinese column names, then one typed row per item.

    Dates are real Excel dates shown as yyyy年m月d日; text is always stored as text, so a cell that starts
    with “=” is never run as a formula.
    """
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _sheet_title(title)
    book.properties.title = title
    header_font = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="DDE6F0")
    widths = [_display_width(c.header) for c in columns]
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=index, value=column.header)
        cell.font = header_font
        cell.fill = header_fill
        cell.alignment = Alignment(horizontal="center", vertical="center")
    count = 0
    for count, row in enumerate(rows, start=1):
        for index, column in enumerate(columns, start=1):
            value = _cell_value(column.kind, row.get(column.key))
            cell = sheet.cell(row=count + 1, column=index, value=value)
            if isinstance(value, str):
                cell.data_type = "s"
                if len(value) > 40 or "\n" in value:
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
            elif isinstance(value, dt.datetime):
                cell.number_format = DATETIME_FORMAT
            elif isinstance(value, dt.date):
                cell.number_format = DATE_FORMAT
            if value is not None and count <= 500:  # a sample is enough to size the columns
                widths[index - 1] = max(widths[index - 1], _display_width(value))
    for index, column in enumerate(columns, start=1):
        fixed = {"date": 16, "datetime": 20}.get(column.kind)
        width = column.width or fixed or min(max(widths[index - 1] + 2, 8), 60)
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    if columns:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# ---- the ledger registry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerFilters:
    """The query filters of the matching API lists; each ledger accepts the ones its list accepts."""

    township: str | None = None
    year: int | None = None
    definition: str | None = None
    campaign: int | None = None
    status: str | None = None

    def given(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]


Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class Ledger:
    name: str  # the URL name: /api/v1/ledgers/{name}.xlsx
    title: str  # Chinese, for the sheet, the file name and the page
    columns: tuple[Column, ...]
    rows: Callable[[Session, Principal, LedgerFilters], Rows]
    filters: frozenset[str]
    roles: frozenset[str] | None = None  # None: every signed-in role (rows are scoped to the caller)
    description: str = ""


LEDGERS: dict[str, Ledger] = {}


def register(ledger: Ledger) -> Ledger:
    """Add a ledger (e.g. accountability cases) to the export API, the page and the CLI."""
    LEDGERS[ledger.name] = ledger
    return ledger


def get_ledger(name: str) -> Ledger:
    ledger = LEDGERS.get(name)
    if ledger is None:
        raise NotFound(f"没有名为“{name}”的台账；可导出的台账：{'、'.join(LEDGERS)}",
                       errors=[{"field": "name", "message": "unknown ledger"}])
    return ledger


def visible_ledgers(principal: Principal) -> list[Ledger]:
    return [x for x in LEDGERS.values() if x.roles is None or principal.user.role in x.roles]


def filename_for(ledger: Ledger, filters: LedgerFilters, today: dt.date) -> str:
    """督办台账-截止事项-2027.xlsx; without a year filter, the date of the export."""
    suffix = str(filters.year) if filters.year is not None else today.strftime("%Y%m%d")
    return f"{FILENAME_PREFIX}-{ledger.title}-{suffix}.xlsx"


def ledger_rows(session: Session, principal: Principal, name: str, filters: LedgerFilters) -> tuple[Ledger, Rows]:
    """The rows of a ledger as the caller's API list would return them (same scope, same filters)."""
    ledger = get_ledger(name)
    if ledger.roles is not None and principal.user.role not in ledger.roles:
        raise PermissionDenied(f"您的角色无权导出“{ledger.title}”台账")
    unsupported = [f for f in filters.given() if f not in ledger.filters]
    if unsupported:
        allowed = "、".join(sorted(ledger.filters)) or "无"
        raise ValidationFailed(
            f"“{ledger.title}”台账不支持筛选条件 {'、'.join(unsupported)}；可用：{allowed}",
            errors=[{"field": f, "message": "not a filter of this ledger"} for f in unsupported],
        )
    return ledger, ledger.rows(session, principal, filters)


def export_ledger(session: Session, principal: Principal, name: str, filters: LedgerFilters,
                  now: dt.datetime) -> tuple[bytes, str]:
    """The workbook and its file name."""
    ledger, rows = ledger_rows(session, principal, name, filters)
    return write_workbook(ledger.title, ledger.columns, rows), filename_for(ledger, filters, china_date(now))


def _definition_name(key: str) -> str:
    definition = get_definitions().get(key)
    return definition.name if definition else key


def _ladder_name(definition_key: str, level: int | None = None, key: str | None = None) -> str:
    definition = get_definitions().get(definition_key)
    if definition is None:
        return key or (str(level) if level else "")
    ladder = definition.escalation.ladder
    if key is not None:
        return next((lv.name for lv in ladder if lv.key == key), key)
    if level and 0 < level <= len(ladder):
        return ladder[level - 1].name
    return ""


# ---- campaigns (督办任务) ---------------------------------------------------------------------------------


def _current_stage(stages: list[Stage]) -> str:
    for stage in sorted(stages, key=lambda s: s.seq):
        if stage.status != "passed":
            return f"{stage.name}（{label(STAGE_STATUS, stage.status)}）"
    return "各阶段均已通过" if stages else ""


def campaign_rows(session: Session, principal: Principal, filters: LedgerFilters) -> Rows:
    """As ``GET /api/v1/campaigns`` (all pages): scope, township, year and definition filters, by id."""
    stmt = select(Campaign, OrgUnit).join(OrgUnit, col(Campaign.township_id) == OrgUnit.id)
    if principal.townships is not None:
        stmt = stmt.where(col(Campaign.township_id).in_(principal.townships))
    if filters.township is not None:
        stmt = stmt.where(OrgUnit.code == filters.township)
    if filters.year is not None:
        stmt = stmt.where(Campaign.year == filters.year)
    if filters.definition is not None:
        stmt = stmt.where(Campaign.definition_key == filters.definition)
    found = session.exec(stmt.order_by(col(Campaign.id))).all()
    stages: dict[int, list[Stage]] = {}
    ids = [c.id for c, _ in found]
    for chunk in range(0, len(ids), 500):
        for stage in session.exec(select(Stage).where(col(Stage.campaign_id).in_(ids[chunk:chunk + 500]))):
            stages.setdefault(stage.campaign_id, []).append(stage)
    return [{
        "id": c.id, "definition": c.definition_key, "definition_name": _definition_name(c.definition_key),
        "definition_version": c.definition_version, "township": t.code, "township_name": t.name, "year": c.year,
        "status": label(CAMPAIGN_STATUS, c.status), "current_stage": _current_stage(stages.get(c.id or 0, [])),
        "launched_at": c.launched_at,
    } for c, t in found]


register(Ledger(
    name="campaigns", title="督办任务",
    description="每个乡镇每年一项督办任务：类型、年度、状态、当前阶段和发起时间。",
    columns=(
        Column("编号", "id", "int"), Column("督办类型", "definition_name"), Column("乡镇编码", "township"),
        Column("乡镇", "township_name"), Column("年度", "year", "int"), Column("状态", "status"),
        Column("当前阶段", "current_stage"), Column("发起时间", "launched_at", "datetime"),
        Column("定义版本", "definition_version", "int"),
    ),
    rows=campaign_rows, filters=frozenset({"township", "year", "definition"}),
))


# ---- obligations with their status (截止事项) ---------------------------------------------------------------


def obligation_rows(session: Session, principal: Principal, filters: LedgerFilters) -> Rows:
    """Every deadline of the campaigns ``GET /api/v1/campaigns`` lists (same filters), in the order
    ``GET /api/v1/campaigns/{id}`` lists them; also by campaign id and obligation status."""
    township, subject = aliased(OrgUnit), aliased(OrgUnit)
    stmt = (select(Obligation, Campaign, township, subject, Stage)  # type: ignore[call-overload]
            .join(Campaign, col(Obligation.campaign_id) == Campaign.id)
            .join(township, col(Campaign.township_id) == township.id)
            .join(subject, col(Obligation.subject_id) == subject.id)
            .outerjoin(Stage, col(Obligation.stage_id) == Stage.id))
    if principal.townships is not None:
        stmt = stmt.where(col(Campaign.township_id).in_(principal.townships))
    if filters.township is not None:
        stmt = stmt.where(township.code == filters.township)
    if filters.year is not None:
        stmt = stmt.where(Campaign.year == filters.year)
    if filters.definition is not None:
        stmt = stmt.where(Campaign.definition_key == filters.definition)
    if filters.campaign is not None:
        stmt = stmt.where(Campaign.id == filters.campaign)
    if filters.status is not None:
        stmt = stmt.where(Obligation.status == filters.status)
    stmt = stmt.order_by(col(Campaign.id), col(Obligation.due_on), col(Obligation.key))
    return [{
        "id": o.id, "campaign_id": c.id, "township": t.code, "township_name": t.name,
        "definition_name": _definition_name(c.definition_key), "year": c.year, "stage": s.name if s else "",
        "subject": u.code, "subject_name": u.name, "title": o.title, "period": o.period, "opens_on": o.opens_on,
        "nominal_due_on": o.nominal_due_on, "due_on": o.due_on, "status": label(OBLIGATION_STATUS, o.status),
        "met_on": o.met_on, "on_time": ON_TIME.get(o.status, ""),
        "escalation": _ladder_name(c.definition_key, level=o.escalation_level),
    } for o, c, t, u, s in session.exec(stmt)]


register(Ledger(
    name="obligations", title="截止事项",
    description="每项报送义务：对象、周期、开始日、截止日（遇节假日按工作日调整）、状态、完成日期、是否按时和督办级别。",
    columns=(
        Column("编号", "id", "int"), Column("任务编号", "campaign_id", "int"), Column("乡镇", "township_name"),
        Column("督办类型", "definition_name"), Column("年度", "year", "int"), Column("阶段", "stage"),
        Column("对象", "subject_name"), Column("事项", "title"), Column("周期", "period"),
        Column("开始日", "opens_on", "date"), Column("规定截止日", "nominal_due_on", "date"),
        Column("截止日", "due_on", "date"), Column("状态", "status"), Column("完成日期", "met_on", "date"),
        Column("是否按时", "on_time"), Column("督办级别", "escalation"),
    ),
    rows=obligation_rows, filters=frozenset({"township", "year", "definition", "campaign", "status"}),
))


# ---- rectification plans per village (一村一策整改台账) -------------------------------------------------------

PLAN_FORM = "village_plan"
# The 一村一策 fields of weak_village_rectification.yaml, with the form's labels (checked by a test).
PLAN_COLUMNS = (
    Column("存在问题", "problems"), Column("整改措施", "measures"), Column("整改责任人", "responsible_person"),
    Column("整改时限", "time_limit", "date"), Column("挂钩帮扶单位", "helping_units"),
    Column("县级领导联系人", "county_leader_contact"), Column("乡（镇）党委会研究日期", "committee_meeting_date", "date"),
    Column("村民代表会议审议情况", "villager_review"),
)


def rectification_rows(session: Session, principal: Principal, filters: LedgerFilters) -> Rows:
    """As ``GET /api/v1/rectifications`` (scope, campaign filter, by id), each village joined with its
    一村一策 plan."""
    township, village = aliased(OrgUnit), aliased(OrgUnit)
    stmt = (select(VillageRectification, Campaign, township, village)
            .join(Campaign, col(VillageRectification.campaign_id) == Campaign.id)
            .join(township, col(Campaign.township_id) == township.id)
            .join(village, col(VillageRectification.village_id) == village.id))
    if principal.townships is not None:
        stmt = stmt.where(col(Campaign.township_id).in_(principal.townships))
    if filters.campaign is not None:
        stmt = stmt.where(VillageRectification.campaign_id == filters.campaign)
    found = session.exec(stmt.order_by(col(VillageRectification.id))).all()
    plans: dict[tuple[int, int], Submission] = {}
    campaign_ids = sorted({r.campaign_id for r, *_ in found})
    for chunk in range(0, len(campaign_ids), 500):
        for sub in session.exec(select(Submission).where(col(Submission.campaign_id).in_(campaign_ids[chunk:chunk + 500]),
                                                         Submission.form_key == PLAN_FORM).order_by(col(Submission.id))):
            if sub.status != "withdrawn" or (sub.campaign_id, sub.subject_id) not in plans:
                plans[(sub.campaign_id, sub.subject_id)] = sub
    out = []
    for r, c, t, v in found:
        plan = plans.get((r.campaign_id, r.village_id))
        data = plan.data if plan else {}
        out.append({
            "id": r.id, "campaign_id": c.id, "township": t.code, "township_name": t.name, "village": v.code,
            "village_name": v.name, "status": label(RECTIFICATION_STATUS, r.status),
            "plan_status": label(SUBMISSION_STATUS, plan.status) if plan else "未填报",
            **{column.key: data.get(column.key) for column in PLAN_COLUMNS},
            "accepted_on": r.accepted_on, "consolidation_ends_on": r.consolidation_ends_on, "closed_on": r.closed_on,
            "failed_acceptances": r.failed_acceptances, "relapses": r.relapses, "note": r.note,
        })
    return out


register(Ledger(
    name="rectifications", title="一村一策整改台账",
    description="每个整顿村一行：整改状态、“一村一策”方案内容（问题、措施、责任人、时限、帮扶单位）、验收和销号日期。",
    columns=(
        Column("编号", "id", "int"), Column("任务编号", "campaign_id", "int"), Column("乡镇", "township_name"),
        Column("村编码", "village"), Column("村", "village_name"), Column("状态", "status"),
        Column("方案状态", "plan_status"), *PLAN_COLUMNS,
        Column("验收日期", "accepted_on", "date"), Column("巩固期满", "consolidation_ends_on", "date"),
        Column("销号日期", "closed_on", "date"), Column("验收未通过次数", "failed_acceptances", "int"),
        Column("反复回潮次数", "relapses", "int"), Column("备注", "note"),
    ),
    rows=rectification_rows, filters=frozenset({"campaign"}),
))


# ---- escalations (督办记录) ------------------------------------------------------------------------------


def escalation_rows(session: Session, principal: Principal, filters: LedgerFilters) -> Rows:
    """Every step up an escalation ladder the caller may see, by id; by township, year, campaign, status."""
    stmt = (select(Escalation, Campaign, OrgUnit, Obligation, Submission)  # type: ignore[call-overload]
            .join(Campaign, col(Escalation.campaign_id) == Campaign.id)
            .join(OrgUnit, col(Escalation.township_id) == OrgUnit.id)
            .outerjoin(Obligation, col(Escalation.obligation_id) == Obligation.id)
            .outerjoin(Submission, col(Escalation.submission_id) == Submission.id))
    if principal.townships is not None:
        stmt = stmt.where(col(Escalation.township_id).in_(principal.townships))
    if filters.township is not None:
        stmt = stmt.where(OrgUnit.code == filters.township)
    if filters.year is not None:
        stmt = stmt.where(Campaign.year == filters.year)
    if filters.campaign is not None:
        stmt = stmt.where(Escalation.campaign_id == filters.campaign)
    if filters.status is not None:
        stmt = stmt.where(Escalation.status == filters.status)
    return [{
        "id": e.id, "campaign_id": c.id, "township": t.code, "township_name": t.name,
        "definition_name": _definition_name(c.definition_key), "year": c.year,
        "item": (o.title if o else None) or (s.title if s else ""), "period": o.period if o else "",
        "trigger": label(TRIGGER_LABELS, e.trigger), "level": e.level,
        "level_name": _ladder_name(c.definition_key, key=e.level_key), "status": label(ESCALATION_STATUS, e.status),
        "reason": e.reason, "created_at": e.created_at,
    } for e, c, t, o, s in session.exec(stmt.order_by(col(Escalation.id)))]


register(Ledger(
    name="escalations", title="督办记录",
    description="逾期未报、多次退回等触发的催办、督办、约谈、通报、问责，每升一级一行。",
    columns=(
        Column("编号", "id", "int"), Column("任务编号", "campaign_id", "int"), Column("乡镇", "township_name"),
        Column("督办类型", "definition_name"), Column("年度", "year", "int"), Column("事项", "item"),
        Column("周期", "period"), Column("触发原因", "trigger"), Column("级别", "level", "int"),
        Column("级别名称", "level_name"), Column("状态", "status"), Column("原因", "reason", width=60),
        Column("时间", "created_at", "datetime"),
    ),
    rows=escalation_rows, filters=frozenset({"township", "year", "campaign", "status"}),
))


def case_rows(session: Session, principal: Principal, filters: LedgerFilters) -> Rows:
    """Accountability cases (问责) the caller may see, by id; by township, year, campaign, status."""
    from domain import accountability as case_rules
    from models import AccountabilityCase

    stmt = (select(AccountabilityCase, Campaign, OrgUnit)  # type: ignore[call-overload]
            .join(Campaign, col(AccountabilityCase.campaign_id) == Campaign.id)
            .join(OrgUnit, col(AccountabilityCase.township_id) == OrgUnit.id))
    if principal.townships is not None:
        stmt = stmt.where(col(AccountabilityCase.township_id).in_(principal.townships))
    if filters.township is not None:
        stmt = stmt.where(OrgUnit.code == filters.township)
    if filters.year is not None:
        stmt = stmt.where(Campaign.year == filters.year)
    if filters.campaign is not None:
        stmt = stmt.where(AccountabilityCase.campaign_id == filters.campaign)
    if filters.status is not None:
        stmt = stmt.where(AccountabilityCase.status == filters.status)
    return [{
        "id": k.id, "campaign_id": c.id, "township_name": t.name, "definition_name": _definition_name(c.definition_key),
        "year": c.year, "trigger": label(TRIGGER_LABELS, k.trigger),
        "persons": "、".join(f"{p.get('name')}（{p.get('role')}）" for p in k.target_persons), "reason": k.reason,
        "status": case_rules.STATUS_LABELS.get(k.status, k.status),
        "decision": case_rules.DECISIONS.get(k.decision or "", "") + (f"（{k.suspension_days}天）" if k.suspension_days else ""),
        "decision_note": k.decision_note or "", "rating": case_rules.RATING_EFFECT_LABELS.get(k.rating_effect or "", ""),
        "created_at": k.created_at, "decided_at": k.decided_at,
    } for k, c, t in session.exec(stmt.order_by(col(AccountabilityCase.id)))]


register(Ledger(
    name="cases", title="问责案件",
    description="逾期、零上报、未经核实等经逐级督办或县委组织部核实后立案的问责案件及处理决定。",
    columns=(
        Column("编号", "id", "int"), Column("任务编号", "campaign_id", "int"), Column("乡镇", "township_name"),
        Column("督办类型", "definition_name"), Column("年度", "year", "int"), Column("问责原因", "trigger"),
        Column("问责对象", "persons", width=40), Column("事由", "reason", width=60), Column("状态", "status"),
        Column("处理决定", "decision"), Column("决定理由", "decision_note", width=40), Column("考核影响", "rating"),
        Column("立案时间", "created_at", "datetime"), Column("决定时间", "decided_at", "datetime"),
    ),
    rows=case_rows, filters=frozenset({"township", "year", "campaign", "status"}),
))


# ---- reading an uploaded workbook ---------------------------------------------------------------------------


def _file_error(message: str, status: int) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"row": 0, "column": "文件", "message": message}], status=status)


def read_xlsx(content: bytes, filename: str | None = None) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    """The header row and the non-empty data rows (with their Excel row numbers) of the first sheet.

    Oversized → 413; not an .xlsx (an old .xls, a CSV, anything not a zip) → 415; a damaged workbook → 422.
    """
    if len(content) > MAX_UPLOAD_BYTES:
        raise _file_error(f"文件不能超过 {MAX_UPLOAD_BYTES // (1024 * 1024)} MB", 413)
    if not content:
        raise _file_error("上传的是空文件", 422)
    name = (filename or "").lower()
    if content.startswith(b"\xd0\xcf\x11\xe0"):
        raise _file_error("这是旧版 Excel（.xls）文件，请在 Excel 中“另存为” .xlsx 后再上传", 415)
    if not content.startswith(b"PK") or (name and not name.endswith((".xlsx", ".xlsm"))):
        raise _file_error("只接受 Excel 工作簿（.xlsx）文件", 415)
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise _file_error("文件已损坏或不是有效的 Excel 工作簿（.xlsx）", 422) from None
    if unpacked > MAX_UNPACKED_BYTES:  # a small file that unpacks to gigabytes (a zip bomb)
        raise _file_error(f"工作簿解压后超过 {MAX_UNPACKED_BYTES // (1024 * 1024)} MB，请拆分后分批导入", 413)
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError) as exc:
        raise _file_error(f"文件已损坏或不是有效的 Excel 工作簿（.xlsx）：{type(exc).__name__}", 422) from None
    try:
        if not book.worksheets:
            raise _file_error("工作簿中没有工作表", 422)
        sheet = book.worksheets[0]
        rows: list[tuple[int, list[Any]]] = []
        header: list[str] | None = None
        for number, values in enumerate(sheet.iter_rows(max_col=MAX_IMPORT_COLUMNS, values_only=True), start=1):
            cells = list(values)
            if header is None:
                if all(v is None or str(v).strip() == "" for v in cells):
                    raise _file_error("第1行应为表头（列名），但它是空的", 422)
                header = ["" if v is None else str(v).strip() for v in cells]
                continue
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in cells):
                continue
            if len(rows) >= MAX_IMPORT_ROWS:
                raise _file_error(f"一次最多导入 {MAX_IMPORT_ROWS} 行，请拆分后分批导入", 413)
            rows.append((number, cells))
    except DubanError:
        raise
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise _file_error(f"文件已损坏或不是有效的 Excel 工作簿（.xlsx）：{type(exc).__name__}", 422) from None
    finally:
        book.close()
    if header is None:
        raise _file_error("工作表是空的：第1行应为表头，之后每行一条记录", 422)
    while header and header[-1] == "":
        header.pop()
    return header, rows


def _reject(errors: list[dict[str, Any]], what: str) -> ValidationFailed:
    errors.sort(key=lambda e: (e["row"], e["column"]))
    shown = "；".join(f"第{e['row']}行“{e['column']}”：{e['message']}" for e in errors[:MAX_ERRORS_IN_DETAIL])
    if len(errors) > MAX_ERRORS_IN_DETAIL:
        shown += f"；另有{len(errors) - MAX_ERRORS_IN_DETAIL}处错误"
    return ValidationFailed(f"{what}导入失败，未导入任何数据。{shown}", errors=errors)


def _text(value: Any) -> str | None:
    """A cell as text: numbers without a spurious “.0”, blanks as None."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime):
        value = value.date() if value.time() == dt.time() else value
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    return text or None


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$"), re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})\.(\d{1,2})\.(\d{1,2})$"), re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$"),
)


def _date(value: Any) -> str:
    """A date cell (a real Excel date, or text such as 2026-06-30 / 2026年6月30日) as YYYY-MM-DD."""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        for pattern in _DATE_PATTERNS:
            match = pattern.match(text)
            if match:
                try:
                    return dt.date(*(int(g) for g in match.groups())).isoformat()
                except ValueError:
                    raise ValueError(f"“{text}”不是有效的日期") from None
    raise ValueError("应为日期，如 2026-06-30 或 2026年6月30日")


# ---- importing the org hierarchy ------------------------------------------------------------------------------

ORG_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("编码", "代码", "组织编码"),
    "name": ("名称", "组织名称", "单位名称"),
    "kind": ("类型", "层级", "级别"),
    "parent": ("上级编码", "上级", "上级组织编码"),
    "collective_income": ("集体收入", "村集体经济收入", "集体经济收入"),
    "key_contact_class": ("重点联系类别", "重点联系"),
}
ORG_LABEL = {key: aliases[0] for key, aliases in ORG_COLUMNS.items()}
KIND_ALIASES = {"县": "county", "县级": "county", "乡镇": "township", "乡": "township", "镇": "township",
                "村": "village", "社区": "village"}
_PYDANTIC_ZH = {
    "missing": "必填", "string_too_short": "不能为空", "string_too_long": "不能超过{max_length}个字符",
    "int_parsing": "应为整数", "int_from_float": "应为整数", "int_type": "应为整数", "string_type": "应为文字",
    "greater_than_equal": "不能小于{ge}", "less_than_equal": "不能大于{le}", "extra_forbidden": "不认识的列",
    "enum": "只能是 county（县）、township（乡镇）或 village（村）",
}


def _zh(error: Mapping[str, Any]) -> str:
    template = _PYDANTIC_ZH.get(str(error.get("type")))
    if template:
        try:
            return template.format(**(error.get("ctx") or {}))
        except (KeyError, IndexError):
            pass
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    if message.startswith("must be B"):
        return "只能填 B（市级重点联系）、C（县级重点联系）或留空"
    return message


def _normalise(name: str) -> str:
    return re.sub(r"[\s（）()]", "", name).lower()


def _map_header(header: list[str], known: Mapping[str, str], what: str,
                ignore_unknown: bool) -> tuple[dict[int, str], dict[str, str], list[dict[str, Any]], list[str]]:
    """Column index → field key; field key → the header as written; errors; ignored headers."""
    by_index: dict[int, str] = {}
    written: dict[str, str] = {}
    errors: list[dict[str, Any]] = []
    ignored: list[str] = []
    for index, text in enumerate(header):
        if not text:
            continue
        key = known.get(_normalise(text))
        if key is None:
            if ignore_unknown:
                ignored.append(text)
            else:
                errors.append({"row": 1, "column": text, "message": f"不认识的列；{what}可用的列：{'、'.join(dict.fromkeys(known.values()))}"})
            continue
        if key in written:
            errors.append({"row": 1, "column": text, "message": f"与“{written[key]}”是同一列，重复了"})
            continue
        by_index[index] = key
        written[key] = text
    return by_index, written, errors, ignored


def import_org_units_xlsx(session: Session, principal: Principal, now: dt.datetime, content: bytes,
                          filename: str | None = None) -> dict[str, Any]:
    """The org hierarchy from a workbook with the columns of the CSV import (English or Chinese headers);
    validated by :func:`tasks.org.import_org_units`, all rows or none. Administrators only."""
    principal.require_role("admin")
    header, rows = read_xlsx(content, filename)
    known = {_normalise(k): k for k in ORG_COLUMNS}
    known |= {_normalise(alias): key for key, aliases in ORG_COLUMNS.items() for alias in aliases}
    by_index, written, errors, _ = _map_header(header, known, "组织导入", ignore_unknown=False)
    for key in ("code", "name", "kind"):
        if key not in written:
            errors.append({"row": 1, "column": ORG_LABEL[key], "message": f"缺少必填列“{ORG_LABEL[key]}”（{key}）"})
    if errors:
        raise _reject(errors, "组织")
    if not rows:
        raise _reject([{"row": 2, "column": "（整行）", "message": "表中没有数据行"}], "组织")

    parsed: list[tuple[int, dict[str, Any]]] = []
    messages: dict[tuple[int, str], str] = {}
    for number, cells in rows:
        raw: dict[str, Any] = {}
        for index, key in by_index.items():
            value = cells[index] if index < len(cells) else None
            if key == "collective_income":
                value = int(value) if isinstance(value, float) and value.is_integer() else value
                value = _text(value) if isinstance(value, str) else value
            else:
                value = _text(value)
            if key == "kind" and isinstance(value, str):
                value = KIND_ALIASES.get(value, value.lower())
            if value is not None:
                raw[key] = value
        try:
            OrgUnitIn.model_validate(raw)
        except ValidationError as exc:
            for e in exc.errors():
                field = ".".join(str(p) for p in e["loc"]) or "(row)"
                messages.setdefault((number, field), _zh(dict(e)))
        parsed.append((number, raw))
    try:
        result = import_org_units(session, parsed)  # checks every row before it writes any
    except ValidationFailed as exc:
        row_errors = [{
            "row": e["line"], "column": written.get(e["field"], ORG_LABEL.get(e["field"], e["field"])),
            "message": messages.get((e["line"], e["field"]), e["message"]),
        } for e in exc.errors]
        raise _reject(row_errors, "组织") from None
    county = session.exec(select(OrgUnit.id).where(OrgUnit.kind == OrgKind.COUNTY.value)).first()
    append_event(session, actor_id=principal.user.id, actor=principal.user.username, action="org.import",
                 subject_type="org_unit", subject_id=county or 0, township_id=None, before=None,
                 after={"file": filename, "rows": len(parsed), **result,
                        "codes": [raw.get("code") for _, raw in parsed][:200]}, now=now)
    return {"rows": len(parsed), **result}


# ---- importing 一村一策 plans --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Village:
    id: int
    code: str
    name: str
    parent_id: int | None


def _plan_obligation(session: Session, campaign: Campaign, definition: Definition) -> tuple[Obligation, Form]:
    rule = next((o for o in definition.obligations if o.form == PLAN_FORM), None)
    obligation = session.exec(select(Obligation).where(Obligation.campaign_id == campaign.id,
                                                       Obligation.rule_key == rule.key)).first() if rule else None
    if rule is None or obligation is None:
        raise ValidationFailed(f"“{definition.name}”没有“一村一策”方案，不能导入",
                               errors=[{"field": "campaign_id", "message": "campaign has no village plans"}])
    if obligation.status == "waived":
        raise InvalidTransition("这个督办任务的“一村一策”方案已标记为不适用，无需导入")
    return obligation, definition.form(PLAN_FORM)


def import_rectification_plans_xlsx(session: Session, principal: Principal, now: dt.datetime, campaign_id: int,
                                    content: bytes, filename: str | None = None) -> dict[str, Any]:
    """One 一村一策 plan per row (one row per village) into the campaign's plan drafts.

    Every row is checked first — the village (by 村编码 or 村名称) exists, belongs to the campaign's
    township, is on its approved list when there is one, appears once; dates and required fields — and any
    problem rejects the whole file. Otherwise each village's draft is created or updated, audited, in the
    caller's transaction. Plans in review or approved are not overwritten. The township's submitters and
    the administrator may import; others get 403, other townships' campaigns read as missing (404).
    """
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or not principal.can_see(campaign.township_id):
        raise NotFound(f"没有编号为 {campaign_id} 的督办任务")
    user = principal.user
    if not (user.role == "admin" or (user.role == "submitter" and user.org_unit_id == campaign.township_id)):
        raise PermissionDenied("只有本乡镇的填报人员或县委组织部可以导入“一村一策”方案")
    definition = get_definitions().get(campaign.definition_key)
    if definition is None:
        raise NotFound(f"督办任务 {campaign_id} 的定义 {campaign.definition_key} 已不存在")
    obligation, form = _plan_obligation(session, campaign, definition)
    township = session.get(OrgUnit, campaign.township_id)
    assert township is not None
    header, rows = read_xlsx(content, filename)

    village_field = next((f for f in form.fields if f.type is FieldType.VILLAGES), None)
    plan_fields = [f for f in form.fields if f is not village_field]
    known: dict[str, str] = {_normalise(x): "#code" for x in ("村编码", "编码", "村代码", "village_code")}
    known |= {_normalise(x): "#name" for x in ("村", "村名称", "村名", "整顿村", "village", "village_name")}
    if village_field is not None:
        known[_normalise(village_field.label)] = "#name"
    for f in plan_fields:
        known[_normalise(f.key)] = f.key
        known[_normalise(f.label)] = f.key
    labels = {f.key: f.label for f in plan_fields} | {"#code": "村编码", "#name": "村名称"}
    by_index, written, errors, ignored = _map_header(header, known, "“一村一策”导入", ignore_unknown=True)
    if "#code" not in written and "#name" not in written:
        errors.append({"row": 1, "column": "村编码", "message": "缺少“村编码”或“村名称”列，无法确定是哪个村"})
    missing_columns = {f.key for f in plan_fields if f.required and f.key not in written}
    for key in sorted(missing_columns):
        errors.append({"row": 1, "column": labels[key], "message": f"缺少必填列“{labels[key]}”"})
    if not rows and not errors:
        errors.append({"row": 2, "column": "（整行）", "message": "表中没有数据行"})

    villages = [_Village(u.id or 0, u.code, u.name, u.parent_id)
                for u in session.exec(select(OrgUnit).where(OrgUnit.kind == OrgKind.VILLAGE.value))]
    by_code = {v.code: v for v in villages}
    by_name: dict[str, list[_Village]] = {}
    for v in villages:
        by_name.setdefault(v.name, []).append(v)
    listed = set(session.exec(select(VillageRectification.village_id).where(
        VillageRectification.campaign_id == campaign.id)))
    own_codes = [v.code for v in villages if v.parent_id == township.id]
    existing = {s.subject_id: s for s in session.exec(select(Submission).where(
        Submission.campaign_id == campaign.id, col(Submission.slot).startswith(f"obligation:{obligation.id}:")))}

    def column(key: str) -> str:
        return written.get(key, labels.get(key, key))

    planned: list[tuple[int, _Village, dict[str, Any]]] = []
    seen: dict[int, int] = {}
    for number, cells in rows:
        values = {key: cells[index] if index < len(cells) else None for index, key in by_index.items()}
        row_errors: list[dict[str, Any]] = []

        def problem(key: str, message: str, number: int = number, row_errors: list[dict[str, Any]] = row_errors) -> None:
            row_errors.append({"row": number, "column": column(key), "message": message})

        village = None
        code, name = _text(values.get("#code")), _text(values.get("#name"))
        if code is None and name is None:
            problem("#code" if "#code" in written else "#name", "请填写村编码或村名称")
        elif code is not None:
            village = by_code.get(code)
            if village is None:
                problem("#code", f"村编码 {code} 不存在")
            elif name is not None and name not in (village.name, village.code):
                problem("#name", f"村名称“{name}”与村编码 {code}（{village.name}）不符")
                village = None
        else:
            assert name is not None
            if name in by_code:
                village = by_code[name]
            else:
                matches = by_name.get(name, [])
                own = [v for v in matches if v.parent_id == township.id]
                if own:
                    village = own[0]
                elif matches:
                    village = matches[0]
                else:
                    problem("#name", f"没有名为“{name}”的村")
        key_for_village = "#code" if code is not None else "#name"
        if village is not None:
            if village.parent_id != township.id:
                problem(key_for_village, f"{village.name}（{village.code}）不属于{township.name}，不能导入本乡镇的方案")
                village = None
            elif listed and village.id not in listed:
                problem(key_for_village, f"{village.name}（{village.code}）不在本次整顿村名单中")
                village = None
            elif village.id in seen:
                problem(key_for_village, f"{village.name}（{village.code}）与第{seen[village.id]}行重复，每个村只能有一行")
                village = None
            else:
                seen[village.id] = number
        data: dict[str, Any] = {}
        for f in plan_fields:
            if f.key not in written:
                continue
            raw = values.get(f.key)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue
            try:
                if f.type is FieldType.DATE:
                    data[f.key] = _date(raw)
                elif f.type is FieldType.NUMBER:
                    data[f.key] = raw if isinstance(raw, int | float) and not isinstance(raw, bool) else float(str(raw).strip())
                elif f.type is FieldType.BOOLEAN:
                    data[f.key] = raw if isinstance(raw, bool) else {"是": True, "否": False}[str(raw).strip()]
                else:
                    data[f.key] = _text(raw)
            except (ValueError, KeyError):
                problem(f.key, "应为日期，如 2026-06-30 或 2026年6月30日" if f.type is FieldType.DATE
                        else "应为数字" if f.type is FieldType.NUMBER else "应为“是”或“否”")
        if village is not None and village_field is not None:
            data[village_field.key] = [village.code]
        try:
            data = validate_form(form, data, complete=True, villages=own_codes)
        except ValidationFailed as exc:
            reported = {e["column"] for e in row_errors}
            for e in exc.errors:
                key = str(e.get("field", "")).removeprefix("data.")
                if key in missing_columns or column(key) in reported or (village_field and key == village_field.key):
                    continue  # already reported as a missing column or a bad cell
                row_errors.append({"row": number, "column": column(key), "message": str(e["message"])})
        if village is not None:
            current = existing.get(village.id)
            if current is not None and current.status not in EDITABLE:
                problem(key_for_village, f"{village.name}的方案{label(SUBMISSION_STATUS, current.status)}，不能再通过导入修改")
        errors.extend(row_errors)
        if not row_errors and village is not None:
            planned.append((number, village, data))
    if errors:
        raise _reject(errors, "“一村一策”方案")
    return _write_plans(session, principal, now, campaign, definition, obligation, form, planned, existing,
                        ignored, filename)


def _write_plans(session: Session, principal: Principal, now: dt.datetime, campaign: Campaign, definition: Definition,
                 obligation: Obligation, form: Form, planned: list[tuple[int, _Village, dict[str, Any]]],
                 existing: dict[int, Submission], ignored: list[str], filename: str | None) -> dict[str, Any]:
    """Create or update each village's draft as ``tasks.review`` does (same slot, version check, audit)."""
    stage = session.get(Stage, obligation.stage_id) if obligation.stage_id else None
    gate_key, _ = definition.review_for(obligation.rule_key, stage.key if stage else None, form.key)
    user = principal.user
    created = updated = 0
    ids: list[int] = []
    for number, village, data in planned:
        source = {"source": "excel", "file": filename, "row": number}
        current = existing.get(village.id)
        if current is None:
            sub = Submission(
                campaign_id=campaign.id or 0, obligation_id=obligation.id, stage_id=obligation.stage_id,
                slot=f"obligation:{obligation.id}:{village.id}", gate_key=gate_key, form_key=form.key,
                title=obligation.title, township_id=campaign.township_id, subject_id=village.id, data=data,
                created_by=user.id, created_at=now, updated_at=now,
            )
            session.add(sub)
            try:
                session.flush()
            except IntegrityError:
                session.rollback()
                raise Conflict(f"{village.name}的方案刚刚由他人创建，请刷新后重新导入") from None
            created += 1
            _audit(session, principal, "submission.create", sub, None, now, {"data": sub.data} | source)
        else:
            sub = current
            before = _snapshot(sub) | {"data": sub.data}
            result = session.execute(
                update(Submission)
                .where(col(Submission.id) == sub.id, col(Submission.version) == sub.version)
                .values(data=sub.data | data, created_by=sub.created_by or user.id, updated_at=now,
                        version=sub.version + 1)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                session.rollback()
                raise Conflict(f"{village.name}的方案已被他人修改，请刷新后重新导入")
            session.expire(sub)
            session.refresh(sub)
            updated += 1
            _audit(session, principal, "submission.update", sub, before, now, {"data": sub.data} | source)
        ids.append(sub.id or 0)
    return {"campaign_id": campaign.id, "rows": len(planned), "created": created, "updated": updated,
            "submissions": ids, "ignored_columns": ignored}


def _snapshot(sub: Submission) -> dict[str, Any]:
    return {k: getattr(sub, k) for k in ("status", "current_level", "round", "returns", "version")}


def _audit(session: Session, principal: Principal, action: str, sub: Submission, before: dict[str, Any] | None,
           now: dt.datetime, extra: dict[str, Any]) -> None:
    append_event(session, actor_id=principal.user.id, actor=principal.user.username, action=action,
                 subject_type="submission", subject_id=sub.id or 0, township_id=sub.township_id,
                 before=jsonable(before), after=jsonable(_snapshot(sub) | extra), now=now)
