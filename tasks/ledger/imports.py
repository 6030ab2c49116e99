"""Importing from Excel: the org hierarchy and the 一村一策 plans, every row checked before anything is written
(any problem rejects the whole file, each problem reported with its row and column)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from domain.definitions import Definition, FieldType, Form, FormField
from domain.errors import Conflict, PermissionDenied, ValidationFailed
from domain.forms import FormContext, validate_form
from domain.review import EDITABLE
from domain.vocabulary import SubmissionStatus
from models import (
    Campaign,
    Obligation,
    OrgKind,
    OrgUnit,
    OrgUnitIn,
    Stage,
    Submission,
)
from tasks import review, vetoes, village_list
from tasks.accounts import Principal
from tasks.audit import append_event
from tasks.ledger.excel import cell_date, cell_text, map_header, normalise, read_xlsx
from tasks.ledger.rows import PLAN_FORM
from tasks.org import import_org_units, org_field_message
from tasks.registry import definition_of
from tasks.scope import visible

MAX_ERRORS_IN_DETAIL = 20


def reject_rows(errors: list[dict[str, Any]], what: str) -> ValidationFailed:
    errors.sort(key=lambda e: (e["row"], e["column"]))
    shown = "；".join(f"第{e['row']}行“{e['column']}”：{e['message']}" for e in errors[:MAX_ERRORS_IN_DETAIL])
    if len(errors) > MAX_ERRORS_IN_DETAIL:
        shown += f"；另有{len(errors) - MAX_ERRORS_IN_DETAIL}处错误"
    return ValidationFailed(f"{what}导入失败，未导入任何数据。{shown}", errors=errors)



# ---- importing the org hierarchy ------------------------------------------------------------------------------

ORG_COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("编码", "代码", "组织编码"),
    "name": ("名称", "组织名称", "单位名称"),
    "kind": ("类型", "层级", "级别"),
    "parent": ("上级编码", "上级", "上级组织编码"),
    "collective_income": ("集体收入", "村集体经济收入", "集体经济收入"),
    "key_contact_class": ("重点联系类别", "重点联系"),
    "unit_level": ("单位级别", "派出单位级别"),
    "establishment_size": ("编制人数", "在编人数"),
}
ORG_LABEL = {key: aliases[0] for key, aliases in ORG_COLUMNS.items()}
KIND_ALIASES = {"县": "county", "县级": "county", "乡镇": "township", "乡": "township", "镇": "township",
                "村": "village", "社区": "village", "派出单位": "unit", "单位": "unit"}
LEVEL_ALIASES = {"县直": "county", "县": "county", "市驻县": "city", "市": "city", "省驻县": "province", "省": "province"}
_zh = org_field_message  # the words of the CSV import (tasks.org), for the same problems in a workbook


def import_org_units_xlsx(session: Session, principal: Principal, now: dt.datetime, content: bytes,
                          filename: str | None = None) -> dict[str, Any]:
    """The org hierarchy from a workbook with the columns of the CSV import (English or Chinese headers);
    validated by :func:`tasks.org.import_org_units`, all rows or none. Administrators only."""
    principal.require_role("admin")
    header, rows = read_xlsx(content, filename)
    known = {normalise(k): k for k in ORG_COLUMNS}
    known |= {normalise(alias): key for key, aliases in ORG_COLUMNS.items() for alias in aliases}
    by_index, written, errors, _ = map_header(header, known, "组织导入", ignore_unknown=False)
    for key in ("code", "name", "kind"):
        if key not in written:
            errors.append({"row": 1, "column": ORG_LABEL[key], "message": f"缺少必填列“{ORG_LABEL[key]}”（{key}）"})
    if errors:
        raise reject_rows(errors, "组织")
    if not rows:
        raise reject_rows([{"row": 2, "column": "（整行）", "message": "表中没有数据行"}], "组织")

    parsed: list[tuple[int, dict[str, Any]]] = []
    messages: dict[tuple[int, str], str] = {}
    for number, cells in rows:
        raw: dict[str, Any] = {}
        for index, key in by_index.items():
            value = cells[index] if index < len(cells) else None
            if key in ("collective_income", "establishment_size"):
                value = int(value) if isinstance(value, float) and value.is_integer() else value
                value = cell_text(value) if isinstance(value, str) else value
            else:
                value = cell_text(value)
            if key == "kind" and isinstance(value, str):
                value = KIND_ALIASES.get(value, value.lower())
            if key == "unit_level" and isinstance(value, str):
                value = LEVEL_ALIASES.get(value, value.lower())
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
        raise reject_rows(row_errors, "组织") from None
    county = session.exec(select(OrgUnit.id).where(OrgUnit.kind == OrgKind.COUNTY.value)).first()
    append_event(session, actor_id=principal.user.id, actor=principal.user.username, action="org.import",
                 subject_type="org_unit", subject_id=county or 0, township_id=None, before=None,
                 after={"file": filename, "rows": len(parsed), **result,
                        "codes": [raw.get("code") for _, raw in parsed][:200]}, now=now)
    return {"rows": len(parsed), **result}


# ---- importing 一村一策 plans --------------------------------------------------------------------------------

_CODE_HEADERS = ("村编码", "编码", "村代码", "village_code")
_NAME_HEADERS = ("村", "村名称", "村名", "整顿村", "village", "village_name")
_BAD_CELL = {FieldType.DATE: "应为日期，如 2026-06-30 或 2026年6月30日", FieldType.NUMBER: "应为数字"}


@dataclass(frozen=True)
class _Village:
    id: int
    code: str
    name: str
    parent_id: int | None


@dataclass
class _PlanColumns:
    """A 一村一策 workbook's header read against the plan form (``#code``/``#name``: the village's columns)."""

    form: Form
    village_field: FormField | None
    plan_fields: list[FormField]
    by_index: dict[int, str]  # column index → field key
    written: dict[str, str]  # field key → its header as written
    labels: dict[str, str]
    missing: set[str]  # required fields without a column
    ignored: list[str]

    def column(self, key: str) -> str:
        return self.written.get(key, self.labels.get(key, key))


@dataclass
class _Villages:
    """What a row's village is checked against: the county's villages, the campaign's township and list."""

    township: OrgUnit
    by_code: dict[str, _Village]
    by_name: dict[str, list[_Village]]
    listed: set[int]  # the approved list of villages to rectify (empty: none yet, or none listed)
    own_codes: list[str]


@dataclass
class _Row:
    number: int
    values: dict[str, Any]
    columns: _PlanColumns
    errors: list[dict[str, Any]] = field(default_factory=list)

    def problem(self, key: str, message: str) -> None:
        self.errors.append({"row": self.number, "column": self.columns.column(key), "message": message})


def _plan_campaign(session: Session, principal: Principal, campaign_id: int) -> tuple[Campaign, Definition]:
    """The campaign whose plans the caller imports: the township's submitters and the administrator may;
    others get 403, other townships' campaigns read as missing (404)."""
    found = session.get(Campaign, campaign_id)
    campaign = visible(principal, found, found.township_id if found else None, f"没有编号为 {campaign_id} 的督办任务")
    user = principal.user
    if not (user.role == "admin" or (user.role == "submitter" and user.org_unit_id == campaign.township_id)):
        raise PermissionDenied("只有本乡镇的填报人员或县委组织部可以导入“一村一策”方案")
    return campaign, definition_of(campaign)


def _plan_obligations(session: Session, campaign: Campaign, definition: Definition) -> tuple[dict[int, Obligation], Form]:
    """The plan each village owes (一村一策: each village on the approved list owes one), by village id."""
    rule = next((o for o in definition.obligations if o.form == PLAN_FORM), None)
    if rule is None:
        raise ValidationFailed(f"“{definition.name}”没有“一村一策”方案，不能导入",
                               errors=[{"field": "campaign_id", "message": "campaign has no village plans"}])
    rows = session.exec(select(Obligation).where(Obligation.campaign_id == campaign.id, Obligation.rule_key == rule.key))
    return {o.subject_id: o for o in rows}, definition.form(PLAN_FORM)


def _plan_columns(form: Form, header: list[str]) -> tuple[_PlanColumns, list[dict[str, Any]]]:
    """The header mapped to the form's fields (unknown columns ignored), and its problems."""
    village_field = next((f for f in form.fields if f.type is FieldType.VILLAGES), None)
    plan_fields = [f for f in form.fields if f is not village_field]
    known = {normalise(x): "#code" for x in _CODE_HEADERS} | {normalise(x): "#name" for x in _NAME_HEADERS}
    if village_field is not None:
        known[normalise(village_field.label)] = "#name"
    for f in plan_fields:
        known[normalise(f.key)] = f.key
        known[normalise(f.label)] = f.key
    labels = {f.key: f.label for f in plan_fields} | {"#code": "村编码", "#name": "村名称"}
    by_index, written, errors, ignored = map_header(header, known, "“一村一策”导入", ignore_unknown=True)
    if "#code" not in written and "#name" not in written:
        errors.append({"row": 1, "column": "村编码", "message": "缺少“村编码”或“村名称”列，无法确定是哪个村"})
    missing = {f.key for f in plan_fields if f.required and f.key not in written}
    errors += [{"row": 1, "column": labels[key], "message": f"缺少必填列“{labels[key]}”"} for key in sorted(missing)]
    columns = _PlanColumns(form, village_field, plan_fields, by_index, written, labels, missing, ignored)
    return columns, errors


def _villages(session: Session, campaign: Campaign, township: OrgUnit) -> _Villages:
    villages = [_Village(u.id or 0, u.code, u.name, u.parent_id)
                for u in session.exec(select(OrgUnit).where(OrgUnit.kind == OrgKind.VILLAGE.value))]
    by_name: dict[str, list[_Village]] = {}
    for v in villages:
        by_name.setdefault(v.name, []).append(v)
    listed = village_list.listed_ids(session, campaign.id or 0)
    return _Villages(township, {v.code: v for v in villages}, by_name, listed,
                     [v.code for v in villages if v.parent_id == township.id])


def _lookup_village(row: _Row, villages: _Villages) -> _Village | None:
    """The row's village by its code (its name, if given too, must match) or by its name (the township's own
    village first); a problem for the row when there is none."""
    code, name = cell_text(row.values.get("#code")), cell_text(row.values.get("#name"))
    if code is not None:
        village = villages.by_code.get(code)
        if village is None:
            row.problem("#code", f"村编码 {code} 不存在")
        elif name is not None and name not in (village.name, village.code):
            row.problem("#name", f"村名称“{name}”与村编码 {code}（{village.name}）不符")
            return None
        return village
    if name is None:
        row.problem("#code" if "#code" in row.columns.written else "#name", "请填写村编码或村名称")
        return None
    if name in villages.by_code:
        return villages.by_code[name]
    matches = villages.by_name.get(name, [])
    own = [v for v in matches if v.parent_id == villages.township.id]
    if own or matches:
        return (own or matches)[0]
    row.problem("#name", f"没有名为“{name}”的村")
    return None


def _row_village(row: _Row, villages: _Villages, seen: dict[int, int],
                 owed: dict[int, Obligation]) -> tuple[_Village | None, str]:
    """The row's village if it is the township's, owes a plan (it is on the campaign's approved list), and is not
    on an earlier row; and the column that names it."""
    key = "#code" if cell_text(row.values.get("#code")) is not None else "#name"
    village = _lookup_village(row, villages)
    if village is None:
        return None, key
    township = villages.township
    if village.parent_id != township.id:
        row.problem(key, f"{village.name}（{village.code}）不属于{township.name}，不能导入本乡镇的方案")
    elif village.id not in villages.listed or village.id not in owed:
        row.problem(key, f"{village.name}（{village.code}）不在本次整顿村名单中" if villages.listed
                    else "本乡镇的后进薄弱村名单尚未经县委组织部审核通过，名单通过后才能导入“一村一策”方案")
    elif village.id in seen:
        row.problem(key, f"{village.name}（{village.code}）与第{seen[village.id]}行重复，每个村只能有一行")
    else:
        seen[village.id] = row.number
        return village, key
    return None, key


def _check_villages(session: Session, campaign: Campaign, definition: Definition, rows: list[tuple[int, list[Any]]],
                    columns: _PlanColumns, villages: _Villages, owed: dict[int, Obligation],
                    existing: dict[int, Submission]) -> list[tuple[_Row, _Village | None]]:
    """Each row with its village if it may have a plan imported (on the list, once, not barred by a one-vote
    veto, not waived, its plan still editable); the row's problems otherwise."""
    seen: dict[int, int] = {}
    barred = _barred(session, campaign, definition, next(iter(owed.values()), None))
    out = []
    for number, cells in rows:
        row = _Row(number, {key: cells[i] if i < len(cells) else None for i, key in columns.by_index.items()}, columns)
        village, key = _row_village(row, villages, seen, owed)
        current = existing.get(village.id) if village is not None else None
        if village is not None and barred(village.id):
            row.problem(key, barred(village.id) or "")
        elif village is not None and owed[village.id].status == "waived":
            row.problem(key, f"{village.name}（{village.code}）的“一村一策”方案已标记为不适用，无需导入")
        elif village is not None and current is not None and current.status not in EDITABLE:
            row.problem(key, f"{village.name}的方案{SubmissionStatus.label_of(current.status)}，不能再通过导入修改")
        else:
            out.append((row, village))
            continue
        out.append((row, None))
    return out


def _barred(session: Session, campaign: Campaign, definition: Definition,
            obligation: Obligation | None) -> Callable[[int], str | None]:
    """Why a village may not have a plan imported (a one-vote veto on its plans, ``tasks.vetoes``), or None."""
    stage = session.get(Stage, obligation.stage_id) if obligation and obligation.stage_id else None
    gate_key = definition.review_for(obligation.rule_key, stage.key if stage else None, PLAN_FORM)[0] if obligation else None
    found = vetoes.bans(session, definition.key) if gate_key else []

    def barred(village_id: int) -> str | None:
        ban = vetoes.ban_for(found, definition.key, gate_key or "", campaign.year, village_id, campaign.township_id)
        return vetoes.ban_message(definition, ban) if ban else None

    return barred


def _cell(f: FormField, raw: Any) -> Any:
    """A cell as the value of ``f`` (ValueError or KeyError when it is not one)."""
    if f.type is FieldType.DATE:
        return cell_date(raw)
    if f.type is FieldType.NUMBER:
        return raw if isinstance(raw, int | float) and not isinstance(raw, bool) else float(str(raw).strip())
    if f.type is FieldType.BOOLEAN:
        return raw if isinstance(raw, bool) else {"是": True, "否": False}[str(raw).strip()]
    return cell_text(raw)


def _row_data(row: _Row, village: _Village | None, own_codes: list[str], context: FormContext | None) -> dict[str, Any]:
    """The row's plan, every cell read and the whole checked against the form (complete)."""
    columns = row.columns
    data: dict[str, Any] = {}
    for f in columns.plan_fields:
        raw = row.values.get(f.key)
        if f.key not in columns.written or raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        try:
            data[f.key] = _cell(f, raw)
        except (ValueError, KeyError):
            row.problem(f.key, _BAD_CELL.get(f.type, "应为“是”或“否”"))
    if village is not None and columns.village_field is not None:
        data[columns.village_field.key] = [village.code]
    try:
        return validate_form(columns.form, data, complete=True, villages=own_codes, context=context)
    except ValidationFailed as exc:
        reported = {e["column"] for e in row.errors}
        village_key = columns.village_field.key if columns.village_field else None
        for e in exc.errors:
            key = str(e.get("field", "")).removeprefix("data.")
            if key in columns.missing or columns.column(key) in reported or key == village_key:
                continue  # already reported as a missing column or a bad cell
            row.errors.append({"row": row.number, "column": columns.column(key), "message": str(e["message"])})
        return data


def import_rectification_plans_xlsx(session: Session, principal: Principal, now: dt.datetime, campaign_id: int,
                                    content: bytes, filename: str | None = None) -> dict[str, Any]:
    """One 一村一策 plan per row (one row per village) into the campaign's plan drafts.

    Every row is checked first — the village (by 村编码 or 村名称) exists, belongs to the campaign's
    township, is on its approved list (only listed villages owe a plan), appears once, no one-vote veto bars it;
    dates, required fields and the plan's content (its own words, not copied from another village's plan, a
    time limit inside the rectification stage: ``domain.forms.content_problems``) — and any problem rejects the
    whole file. Otherwise each village's draft is created or updated, audited, in the
    caller's transaction. Plans in review or approved are not overwritten. The township's submitters and
    the administrator may import; others get 403, other townships' campaigns read as missing (404).
    """
    campaign, definition = _plan_campaign(session, principal, campaign_id)
    owed, form = _plan_obligations(session, campaign, definition)
    township = session.get(OrgUnit, campaign.township_id)
    assert township is not None
    header, rows = read_xlsx(content, filename)
    columns, errors = _plan_columns(form, header)
    if not rows and not errors:
        errors.append({"row": 2, "column": "（整行）", "message": "表中没有数据行"})
    villages = _villages(session, campaign, township)
    existing = {s.subject_id: s for s in session.exec(select(Submission).where(
        Submission.campaign_id == campaign.id, col(Submission.obligation_id).in_([o.id for o in owed.values()]),
        Submission.status != SubmissionStatus.WITHDRAWN))}
    checked = _check_villages(session, campaign, definition, rows, columns, villages, owed, existing)
    # a plan's content is checked for the rows whose village may have one; its text is compared with the other
    # villages' plans: those in the file, and the others' in duban
    in_file = {village.id for _, village in checked if village is not None}
    others = [(vid, sub.data) for vid, sub in existing.items() if vid not in in_file]
    planned: list[tuple[int, _Village, dict[str, Any]]] = []
    for row, village in checked:
        context = review.form_context(session, form, campaign.id or 0, village.id, others) if village else None
        data = _row_data(row, village, villages.own_codes, context)
        errors.extend(row.errors)
        if not row.errors and village is not None:
            planned.append((row.number, village, data))
            others.append((village.id, data))
    if errors:
        raise reject_rows(errors, "“一村一策”方案")
    return _write_plans(session, principal, now, campaign, owed, planned, existing, columns.ignored, filename)


def _write_plans(session: Session, principal: Principal, now: dt.datetime, campaign: Campaign, owed: dict[int, Obligation],
                 planned: list[tuple[int, _Village, dict[str, Any]]], existing: dict[int, Submission],
                 ignored: list[str], filename: str | None) -> dict[str, Any]:
    """Each village's draft created or updated through the draft functions of the API (:func:`tasks.review.new_draft`,
    :func:`tasks.review.save_draft`: same slot, validation, version check and audit), noting the file and row."""
    created = updated = 0
    ids: list[int] = []
    for number, village, data in planned:
        note = {"source": "excel", "file": filename, "row": number}
        current = existing.get(village.id)
        try:
            if current is None:
                sub = review.new_draft(session, principal, now, campaign=campaign, obligation=owed[village.id],
                                       subject_id=village.id, data=data, note=note)
                created += 1
            else:
                sub = review.save_draft(session, principal, now, current, current.data | data, current.version,
                                        claim=True, note=note)
                updated += 1
        except Conflict:
            raise Conflict(f"{village.name}的方案{'刚刚由他人创建' if current is None else '已被他人修改'}，请刷新后重新导入") from None
        ids.append(sub.id or 0)
    return {"campaign_id": campaign.id, "rows": len(planned), "created": created, "updated": updated,
            "submissions": ids, "ignored_columns": ignored}
