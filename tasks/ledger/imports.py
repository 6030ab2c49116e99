"""Importing from Excel: the org hierarchy and the 一村一策 plans, every row checked before anything is written
(any problem rejects the whole file, each problem reported with its row and column)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select, update

from domain.definitions import Definition, FieldType, Form
from domain.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from domain.forms import validate_form
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
    VillageRectification,
)
from tasks.accounts import Principal
from tasks.audit import append_event, jsonable
from tasks.ledger.excel import cell_date, cell_text, map_header, normalise, read_xlsx
from tasks.ledger.rows import PLAN_FORM
from tasks.org import import_org_units
from tasks.registry import get_definitions

MAX_ERRORS_IN_DETAIL = 20


def _reject(errors: list[dict[str, Any]], what: str) -> ValidationFailed:
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
                value = cell_text(value) if isinstance(value, str) else value
            else:
                value = cell_text(value)
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
    known: dict[str, str] = {normalise(x): "#code" for x in ("村编码", "编码", "村代码", "village_code")}
    known |= {normalise(x): "#name" for x in ("村", "村名称", "村名", "整顿村", "village", "village_name")}
    if village_field is not None:
        known[normalise(village_field.label)] = "#name"
    for f in plan_fields:
        known[normalise(f.key)] = f.key
        known[normalise(f.label)] = f.key
    labels = {f.key: f.label for f in plan_fields} | {"#code": "村编码", "#name": "村名称"}
    by_index, written, errors, ignored = map_header(header, known, "“一村一策”导入", ignore_unknown=True)
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
        code, name = cell_text(values.get("#code")), cell_text(values.get("#name"))
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
                    data[f.key] = cell_date(raw)
                elif f.type is FieldType.NUMBER:
                    data[f.key] = raw if isinstance(raw, int | float) and not isinstance(raw, bool) else float(str(raw).strip())
                elif f.type is FieldType.BOOLEAN:
                    data[f.key] = raw if isinstance(raw, bool) else {"是": True, "否": False}[str(raw).strip()]
                else:
                    data[f.key] = cell_text(raw)
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
                problem(key_for_village, f"{village.name}的方案{SubmissionStatus.label_of(current.status)}，不能再通过导入修改")
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

