"""Validate a submission's data against its form from the campaign definition: each field's type always, and —
for a complete answer — what the definition asks of it (required fields; substantive text, text of its own, a
date inside a stage, the village it is about: ``FormContext``)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as default
from typing import Any

from domain.definitions import FieldType, Form, FormField
from domain.errors import ValidationFailed
from domain.hollow import is_hollow, meaningful
from domain.vocabulary import zh_date

MAX_TEXT = 20_000


@dataclass(frozen=True)
class Village:
    code: str
    name: str


@dataclass(frozen=True)
class Stage:
    name: str
    opens_on: dt.date
    closes_on: dt.date


@dataclass(frozen=True)
class FormContext:
    """What the checks of a complete answer need besides its data: the village it is about (``names_subject``;
    a ``distinct_per_village`` text is compared without village names), the other villages' answers to the same
    form in the campaign (``distinct_per_village``) and the campaign's stages (``within_stage``)."""

    subject: Village | None = None
    others: Sequence[tuple[Village, Mapping[str, Any]]] = ()
    stages: Mapping[str, Stage] = default(default_factory=dict)


def validate_form(
    form: Form,
    data: Mapping[str, Any],
    *,
    complete: bool,
    villages: Collection[str] = (),
    attachments: Collection[int] = (),
    context: FormContext | None = None,
) -> dict[str, Any]:
    """Check ``data`` field by field and return the cleaned values.

    ``complete=False`` (a draft) accepts missing required fields; unknown fields and wrong types
    are refused either way. A complete answer must also pass its fields' content checks (``FormContext``).
    Every error names its field, so the form can show it in place.
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
    if context is not None:
        _name_the_subject(form, cleaned, context)
        if complete:
            errors += [e for e in content_problems(form, cleaned, context) if e["field"] not in {x["field"] for x in errors}]
    if errors:
        summary = "；".join(e["message"] for e in errors[:10])
        raise ValidationFailed(f"填报内容有误：{summary}", errors=errors)
    return cleaned


def _name_the_subject(form: Form, cleaned: dict[str, Any], context: FormContext) -> None:
    """A ``names_subject`` field left empty names the village the material is about."""
    for f in form.fields:
        if f.names_subject and context.subject is not None and not cleaned.get(f.key):
            cleaned[f.key] = [context.subject.code]


def content_problems(form: Form, data: Mapping[str, Any], context: FormContext) -> list[dict[str, str]]:
    """What a complete answer's content fails, one message per field (004 §一.2 三个不放过 for a 一村一策 plan:
    real problems, targeted measures, a responsible person and a time limit; 000 §四(二) one plan per village)."""
    out = []
    for f in form.fields:
        value = data.get(f.key)
        message = _content_problem(f, value, form, context) if value not in (None, "", []) else None
        if message:
            out.append({"field": f"data.{f.key}", "message": message})
    return out


def _content_problem(f: FormField, value: Any, form: Form, context: FormContext) -> str | None:
    if f.substantive and isinstance(value, str):
        if meaningful(value) == meaningful(f.label):
            return f"“{f.label}”只重复了栏目名称，请写明实际内容"
        if is_hollow(value, form.boilerplate, 0):
            return f"“{f.label}”只填写了“{value.strip()[:40]}”，请写明实际内容"
    if f.distinct_per_village and isinstance(value, str):
        copied = next((village for village, data in context.others
                       if _own_words(data.get(f.key), village, context) == _own_words(value, context.subject, context)
                       and _own_words(value, context.subject, context)), None)
        if copied is not None:
            return f"“{f.label}”与{copied.name}的相同，请针对本村的实际情况填写"
    if f.within_stage and isinstance(value, str) and f.within_stage in context.stages:
        stage, day = context.stages[f.within_stage], dt.date.fromisoformat(value)
        if not stage.opens_on <= day <= stage.closes_on:
            return f"“{f.label}”应在{stage.name}阶段内（{zh_date(stage.opens_on)}至{zh_date(stage.closes_on)}）"
    if f.names_subject and context.subject is not None and value != [context.subject.code]:
        return f"“{f.label}”应为本方案所属的村：{context.subject.name}（{context.subject.code}），一个方案只对应一个村"
    return None


def _own_words(text: Any, village: Village | None, context: FormContext) -> str:
    """A text as compared between villages: its meaningful characters without any village's name."""
    if not isinstance(text, str):
        return ""
    for name in {v.name for v, _ in context.others} | ({village.name} if village else set()):
        text = text.replace(name, "")
    return meaningful(text)


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
