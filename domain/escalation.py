"""The escalation ladder: how far an overdue obligation has climbed by a given day.

催办 → 督办 → 约谈 → 通报 → 问责 (004_7c184efb1f3c43f7.txt §一.3, 000_a28a7778217e042c.txt §四(三)).
Each level comes a number of working days after the previous one (the first: after the due date).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from domain.calendar import WorkCalendar
from domain.definitions import FieldType, Form, FormField


def level_dates(due_on: dt.date, delays: Sequence[int], calendar: WorkCalendar) -> list[dt.date]:
    """The day each level of the ladder is reached when nothing is submitted."""
    out = []
    day = due_on
    for delay in delays:
        day = calendar.add_workdays(day, delay) if delay else day
        out.append(day)
    return out


def level_reached(due_on: dt.date, delays: Sequence[int], calendar: WorkCalendar, today: dt.date) -> int:
    """How many levels an obligation due on ``due_on`` and still missing has reached by ``today`` (0..n)."""
    return sum(1 for day in level_dates(due_on, delays, calendar) if day <= today)


# ---- 零上报 and hollow reports (000_a28a7778217e042c.txt §四(三)) ------------------------------------

_NOISE = set(" \t\r\n　,，.。;；:：!！?？、·…-—_~()（）[]【】\"'“”‘’")


def meaningful(text: str) -> str:
    """The text without whitespace and punctuation: what is left to judge a section by."""
    return "".join(ch for ch in text if ch not in _NOISE)


def is_hollow(text: str, boilerplate: Sequence[str], min_chars: int) -> bool:
    """A section is hollow when it is empty, a stock phrase ("无", "暂无", "同上", "见附件" …) repeated,
    or shorter than ``min_chars`` meaningful characters."""
    core = meaningful(text)
    if not core:
        return True
    phrases = sorted({meaningful(p) for p in boilerplate if meaningful(p)}, key=len, reverse=True)
    rest = core
    for phrase in phrases:
        rest = rest.replace(phrase, "")
    return not rest or len(core) < min_chars


def zero_report_findings(
    form: Form,
    data: dict[str, Any],
    *,
    boilerplate: Sequence[str],
    min_chars: int,
    known_weak_villages: Mapping[str, str],
) -> list[str]:
    """Why a report is a zero report, one reason per section; empty when it is not.

    - a required text section empty, boilerplate only (or its own heading repeated), or too short to
      say anything;
    - a village list that leaves out a village the county knows is weak (已知的后进薄弱村:
      ``known_weak_villages``, code → how it is described), or left empty with a hollow explanation.
    """
    findings: list[str] = []
    fields = {f.key: f for f in form.fields}
    for f in form.fields:
        value = data.get(f.key)
        if f.type is FieldType.TEXTAREA and f.required:
            text = value if isinstance(value, str) else ""
            if not meaningful(text):
                findings.append(f"“{f.label}”为空")
            elif is_hollow(text, [*boilerplate, f.label], min_chars):
                findings.append(f"“{f.label}”只填写了“{text.strip()[:40]}”，没有实际内容")
        elif f.type is FieldType.VILLAGES:
            findings += _list_findings(f, value or [], data, fields, boilerplate, min_chars, known_weak_villages)
    return findings


def _list_findings(f: FormField, listed: Sequence[str], data: dict[str, Any], fields: Mapping[str, FormField],
                   boilerplate: Sequence[str], min_chars: int, known: Mapping[str, str]) -> list[str]:
    """000 §四(三): a list that leaves out known weak villages (all of them: 零上报), or an empty one without a
    real reason."""
    omitted = [described for code, described in known.items() if code not in listed]
    if omitted and not listed:
        return [f"“{f.label}”未列出任何村，但本乡镇有已知的后进薄弱村：{'、'.join(omitted)}"]
    if omitted:
        return [f"“{f.label}”未列入本乡镇已知的后进薄弱村：{'、'.join(omitted)}"]
    if listed:
        return []
    findings = []
    for reason in (o for o in fields.values() if o.required_when_empty == f.key):
        explanation = data.get(reason.key)
        if not isinstance(explanation, str) or is_hollow(explanation, boilerplate, min_chars):
            findings.append(f"“{f.label}”未列出任何村，“{reason.label}”也没有说明实际理由")
    return findings
