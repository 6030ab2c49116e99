"""Validate a submission's data against its form from the campaign definition."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Mapping
from typing import Any

from domain.definitions import FieldType, Form
from domain.errors import ValidationFailed

MAX_TEXT = 20_000


def validate_form(
    form: Form,
    data: Mapping[str, Any],
    *,
    complete: bool,
    villages: Collection[str] = (),
    attachments: Collection[int] = (),
) -> dict[str, Any]:
    """Check ``data`` field by field and return the cleaned values.

    ``complete=False`` (a draft) accepts missing required fields; unknown fields and wrong types
    are refused either way. Every error names its field, so the form can show it in place.
    """
    fields = {f.key: f for f in form.fields}
    errors: list[dict[str, str]] = []
    cleaned: dict[str, Any] = {}
    for key in data:
        if key not in fields:
            errors.append({"field": f"data.{key}", "message": f"“{form.name}”没有字段“{key}”，请删除；可用字段：{', '.join(fields)}"})
    for key, field in fields.items():
        value = data.get(key)
        empty = value is None or value == "" or value == [] or value == {}
        if empty:
            other = fields.get(field.required_when_empty or "")
            if complete and other is not None and data.get(other.key) in (None, "", []):
                errors.append({"field": f"data.{key}", "message": f"“{other.label}”为空时必须填写“{field.label}”"})
            elif complete and field.required:
                errors.append({"field": f"data.{key}", "message": f"请填写“{field.label}”"})
            continue
        try:
            cleaned[key] = _clean(field.type, value, field.options, villages, attachments, field.unit)
        except ValueError as exc:
            errors.append({"field": f"data.{key}", "message": f"“{field.label}”{exc}"})
            continue
        if field.unit == "percent" and not 0 <= cleaned[key] <= 100:
            errors.append({"field": f"data.{key}", "message": f"“{field.label}”应为0到100之间的百分数（如93.5表示93.5%）"})
        if field.min_length and isinstance(cleaned[key], str) and complete and len(cleaned[key]) < field.min_length:
            errors.append({"field": f"data.{key}", "message": f"“{field.label}”至少需要{field.min_length}字"})
    if errors:
        summary = "；".join(e["message"] for e in errors[:10])
        raise ValidationFailed(f"填报内容有误：{summary}", errors=errors)
    return cleaned


def text_problem(value: str) -> str | None:
    """Why a piece of user text cannot be stored as it is, or None when it can."""
    if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in value):
        return "含有不可见的控制字符"
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        return "含有无效的 Unicode 字符（孤立代理项）"
    return None


def clean_number(value: Any, unit: str | None = None) -> int | float:
    """A finite number within what its unit allows: a percent on the one scale 0–100, a growth rate of at least
    -100, a count or a number of times a whole number ≥ 0. The ``ValueError`` says what to fix."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("应为数字")
    if not math.isfinite(value):
        raise ValueError("应为有限的数字")
    if abs(value) > 1e12:
        raise ValueError("数值过大")
    if unit == "percent" and not 0 <= value <= 100:
        raise ValueError("应在0到100之间（按百分数填写，如 90 表示 90%）")
    if unit == "growth" and value < -100:
        raise ValueError("不能低于-100（按百分数填写增长率，如 6 表示增长 6%）")
    if unit in ("count", "times"):
        if value < 0 or value != int(value):
            raise ValueError("应为不小于0的整数")
        return int(value)
    return value


def _village_numbers(value: Any, unit: str | None, villages: Collection[str]) -> dict[str, int | float]:
    """``{village code: number}`` for villages of the township, each number checked as ``clean_number``."""
    if not isinstance(value, dict):
        raise ValueError("应为各村的数字，如 {\"村编码\": 数字}")
    unknown = [c for c in value if c not in villages]
    if unknown:
        raise ValueError(f"中的村编码不属于本乡镇：{', '.join(str(c) for c in unknown[:5])}")
    cleaned: dict[str, int | float] = {}
    for code in sorted(value):
        try:
            cleaned[code] = clean_number(value[code], unit)
        except ValueError as exc:
            raise ValueError(f"中 {code} 的数字{exc}") from None
    return cleaned


def _clean(
    kind: FieldType, value: Any, options: list[str], villages: Collection[str], attachments: Collection[int],
    unit: str | None = None,
) -> Any:
    if kind in (FieldType.TEXT, FieldType.TEXTAREA):
        if not isinstance(value, str):
            raise ValueError("应为文字")
        value = value.strip()
        limit = 200 if kind is FieldType.TEXT else MAX_TEXT
        if len(value) > limit:
            raise ValueError(f"不能超过{limit}字")
        problem = text_problem(value)
        if problem:
            raise ValueError(problem)
        return value
    if kind is FieldType.NUMBER:
        return clean_number(value, unit)
    if kind is FieldType.VILLAGE_NUMBERS:
        return _village_numbers(value, unit, villages)
    if kind is FieldType.BOOLEAN:
        if not isinstance(value, bool):
            raise ValueError("应为是或否（true/false）")
        return value
    if kind is FieldType.DATE:
        if not isinstance(value, str):
            raise ValueError("应为日期，格式 YYYY-MM-DD")
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError("应为日期，格式 YYYY-MM-DD") from None
        if not 2000 <= day.year <= 2100:
            raise ValueError("日期超出合理范围")
        return day.isoformat()
    if kind is FieldType.SELECT:
        if value not in options:
            raise ValueError(f"只能选择：{'、'.join(options)}")
        return value
    if kind is FieldType.VILLAGES:
        codes = [value] if isinstance(value, str) else value
        if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
            raise ValueError("应为村编码列表")
        unknown = [c for c in codes if c not in villages]
        if unknown:
            raise ValueError(f"中的村编码不属于本乡镇：{', '.join(unknown[:5])}")
        return sorted(set(codes))
    if kind is FieldType.FILE:
        ids = [value] if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise ValueError("应为附件编号列表")
        missing = [i for i in ids if i not in attachments]
        if missing:
            raise ValueError(f"引用了不存在的附件：{missing[:5]}")
        return ids
    raise ValueError("字段类型不受支持")  # pragma: no cover
