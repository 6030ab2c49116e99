"""Import the organisation hierarchy (CSV or YAML) and seed the demo county."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError
from sqlmodel import Session, SQLModel, select

from domain.errors import ValidationFailed, field_message
from models import OrgKind, OrgUnit, OrgUnitIn
from models.org import PARENT_KIND

KIND_LABEL = {"county": "县", "township": "乡镇", "village": "村", "unit": "派出单位"}


class _LineLoader(yaml.SafeLoader):
    """Safe YAML loader that remembers the line each mapping starts on."""


def _mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping: dict[str, Any] = loader.construct_mapping(node, deep=True)  # type: ignore[assignment]
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


def read_org_file(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """Rows of an org file with their line numbers; CSV (with a header) or YAML (a list of units)."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        rows = []
        for row in reader:
            if None in row:
                raise ValidationFailed(f"{path.name} 第{reader.line_num}行：列数多于表头")
            rows.append((reader.line_num, {k.strip(): v for k, v in row.items() if k is not None}))
        return rows
    if path.suffix.lower() in {".yaml", ".yml"}:
        try:
            data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.YAMLError as exc:
            raise ValidationFailed(f"{path.name}：YAML 格式错误：{exc}") from None
        if isinstance(data, dict) and "units" in data:
            data = data["units"]
        if not isinstance(data, list):
            raise ValidationFailed(f"{path.name}：应为组织单位列表（或含 units 列表的映射）")
        out = []
        for item in data:
            if not isinstance(item, dict):
                raise ValidationFailed(f"{path.name}：每一项都应是一个组织单位（映射）")
            line = item.pop("__line__", 0)
            out.append((line, item))
        return out
    raise ValidationFailed(f"{path.name}：只支持 .csv、.yaml 或 .yml 文件")


M = TypeVar("M", bound=SQLModel)


ORG_FIELD_ZH = {
    "missing": "必填", "string_too_short": "不能为空", "string_too_long": "不能超过{max_length}个字符",
    "int_parsing": "应为整数", "int_from_float": "应为整数", "int_type": "应为整数", "string_type": "应为文字",
    "greater_than_equal": "不能小于{ge}", "less_than_equal": "不能大于{le}", "extra_forbidden": "不认识的列",
    "enum": "只能是 county（县）、township（乡镇）、village（村）或 unit（派出单位）",
}
"""Pydantic's refusals of an org row in the county's words, by error type."""


def org_field_message(error: Mapping[str, Any]) -> str:
    """What is wrong with one field of an org row, in Chinese (CSV, YAML and Excel imports alike)."""
    if error.get("type") == "enum" and tuple(error.get("loc", ())) == ("unit_level",):
        return "只能是 county（县直）、city（市驻县）或 province（省驻县）"
    message = field_message(error, ORG_FIELD_ZH)
    if message.startswith("must be B"):
        return "只能填 B（市级重点联系）、C（县级重点联系）或留空"
    return message


def parse_rows(rows: list[tuple[int, dict[str, Any]]], errors: list[dict[str, Any]], model: type[M],
               templates: Mapping[str, str] | Callable[[Mapping[str, Any]], str] | None = None) -> list[tuple[int, M]]:
    """The rows that ``model`` accepts; what it refuses goes to ``errors`` with its line and field (in the
    words of ``templates`` by pydantic error type, see :func:`domain.errors.field_message`)."""
    parsed: list[tuple[int, M]] = []
    for line, raw in rows:
        try:
            parsed.append((line, model.model_validate(raw)))
        except ValidationError as exc:
            for e in exc.errors():
                field = ".".join(str(p) for p in e["loc"]) or "(row)"
                msg = templates(dict(e)) if callable(templates) else field_message(dict(e), templates or {})
                errors.append({"line": line, "field": field, "message": msg})
    return parsed


def _hierarchy_errors(line: int, unit: OrgUnitIn, kinds: dict[str, OrgKind], old: OrgUnit | None) -> list[dict[str, Any]]:
    """What is wrong with one unit's place in the county → township → village hierarchy."""
    errors: list[dict[str, Any]] = []
    expected = PARENT_KIND[unit.kind]
    if expected is None:
        if unit.parent:
            errors.append({"line": line, "field": "parent", "message": "县级单位不应有上级"})
        return errors
    if not unit.parent:
        errors.append({"line": line, "field": "parent", "message": f"{KIND_LABEL[unit.kind]}必须填写上级编码"})
    elif unit.parent not in kinds:
        errors.append({"line": line, "field": "parent", "message": f"上级编码 {unit.parent} 不存在"})
    elif kinds[unit.parent] is not expected:
        errors.append({
            "line": line, "field": "parent",
            "message": f"{KIND_LABEL[unit.kind]}的上级应为{KIND_LABEL[expected]}，{unit.parent} 是{KIND_LABEL[kinds[unit.parent]]}",
        })
    if unit.kind is not OrgKind.VILLAGE and (unit.key_contact_class or unit.collective_income is not None):
        errors.append({"line": line, "field": "kind", "message": "重点联系类别和集体收入只适用于村"})
    errors.extend(_unit_errors(line, unit))
    if old is not None and old.kind != unit.kind:
        errors.append({"line": line, "field": "kind", "message": f"{unit.code} 已存在且类型为 {old.kind}，不能改为 {unit.kind}"})
    return errors


def _unit_errors(line: int, unit: OrgUnitIn) -> list[dict[str, Any]]:
    """A dispatching unit (派出单位) needs its level and its establishment size (编制人数), which 003 三(二)
    uses to size what it sends ("按在编干部的20%左右选派"); no other kind of unit has either."""
    if unit.kind is not OrgKind.UNIT:
        if unit.unit_level is not None or unit.establishment_size is not None:
            return [{"line": line, "field": "kind", "message": "单位级别和编制人数只适用于派出单位"}]
        return []
    errors = []
    if unit.unit_level is None:
        errors.append({"line": line, "field": "unit_level",
                       "message": "派出单位必须填写单位级别：county（县直）、city（市驻县）或 province（省驻县）"})
    if unit.establishment_size is None:
        errors.append({"line": line, "field": "establishment_size", "message": "派出单位必须填写编制人数"})
    return errors


def _write_units(session: Session, parsed: list[tuple[int, OrgUnitIn]], existing: dict[str, OrgUnit]) -> dict[str, int]:
    """Create or update every unit, parents first (a township before its villages)."""
    created = updated = 0
    order = {OrgKind.COUNTY: 0, OrgKind.TOWNSHIP: 1, OrgKind.UNIT: 1, OrgKind.VILLAGE: 2}
    by_code = dict(existing)
    for _, unit in sorted(parsed, key=lambda p: order[p[1].kind]):
        row = by_code.get(unit.code)
        if row is None:
            row = OrgUnit(code=unit.code, name=unit.name, kind=unit.kind.value)
            created += 1
        else:
            updated += 1
        row.name = unit.name
        row.collective_income = unit.collective_income
        row.key_contact_class = unit.key_contact_class
        row.unit_level = unit.unit_level.value if unit.unit_level else None
        row.establishment_size = unit.establishment_size
        row.parent_id = by_code[unit.parent].id if unit.parent else None
        session.add(row)
        session.flush()
        by_code[unit.code] = row
    return {"created": created, "updated": updated}


def import_org_units(session: Session, rows: list[tuple[int, dict[str, Any]]], source: str = "") -> dict[str, int]:
    """Validate every row, then create or update units by code. Any error: nothing is written."""
    errors: list[dict[str, Any]] = []
    parsed = parse_rows(rows, errors, OrgUnitIn, org_field_message)
    existing = {u.code: u for u in session.exec(select(OrgUnit))}
    seen: dict[str, int] = {}
    kinds = {code: OrgKind(u.kind) for code, u in existing.items()}
    for line, unit in parsed:
        if unit.code in seen:
            errors.append({"line": line, "field": "code", "message": f"编码 {unit.code} 与第{seen[unit.code]}行重复"})
        seen[unit.code] = line
        kinds[unit.code] = unit.kind
    for line, unit in parsed:
        errors.extend(_hierarchy_errors(line, unit, kinds, existing.get(unit.code)))
    reject_if_any(errors, source)
    return _write_units(session, parsed, existing)


def reject_if_any(errors: list[dict[str, Any]], source: str = "") -> None:
    """Refuse a whole import when any row is wrong, naming each row's line, field and what to fix."""
    if not errors:
        return
    prefix = f"{source} " if source else ""
    errors.sort(key=lambda e: e["line"])
    detail = "；".join(f"{prefix}第{e['line']}行 {e['field']}：{e['message']}" for e in errors[:20])
    if len(errors) > 20:
        detail += f"；另有{len(errors) - 20}处错误"
    raise ValidationFailed(f"导入失败，未导入任何数据。{detail}", errors=errors)


_TOWNSHIPS = [
    "青石镇", "柳河乡", "白沙镇", "云岭乡", "桃源镇", "金溪乡", "松坪镇", "龙潭乡",
    "梨花镇", "石门乡", "双河镇", "凤鸣乡",
]
_VILLAGE_ROOTS = "东西南北上下前后大小新老高杨李王张陈刘黄林周吴徐孙马朱胡郭何罗梁宋郑谢韩唐冯"
_VILLAGE_TAILS = ["家村", "庄村", "坪村", "沟村", "山村", "湾村", "塘村", "岭村", "桥村", "冲村", "坝村", "寨村"]


def demo_county_rows(seed: int = 2027, townships: int = 12, villages_per_township: int = 10) -> list[tuple[int, dict[str, Any]]]:
    """A fictional county (清溪县) for demos and tests; the same seed gives the same county."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = [{"code": "QX", "name": "清溪县", "kind": "county"}]
    used: set[str] = set()
    for t in range(townships):
        t_code = f"QX{t + 1:02d}"
        t_name = _TOWNSHIPS[t] if t < len(_TOWNSHIPS) else f"第{t + 1}乡"
        rows.append({"code": t_code, "name": t_name, "kind": "township", "parent": "QX"})
        for v in range(villages_per_township):
            while True:
                name = rng.choice(_VILLAGE_ROOTS) + rng.choice(_VILLAGE_ROOTS) + rng.choice(_VILLAGE_TAILS)
                if name not in used:
                    used.add(name)
                    break
            roll = rng.random()
            rows.append({
                "code": f"{t_code}{v + 1:03d}",
                "name": name,
                "kind": "village",
                "parent": t_code,
                "collective_income": rng.choice([8_000, 15_000, 22_000, 30_000, 45_000, 80_000, 150_000]),
                "key_contact_class": "B" if roll < 0.04 else "C" if roll < 0.16 else None,
            })
    return [(i + 2, row) for i, row in enumerate(rows)]
