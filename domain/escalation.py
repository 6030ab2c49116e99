"""The escalation ladder: how far an overdue obligation has climbed by a given day.

催办 → 督办 → 约谈 → 通报 → 问责 (004_7c184efb1f3c43f7.txt §一.3, 000_a28a7778217e042c.txt §四(三)).
Each level comes a number of working days after the previous one (the first: after the due date). A trigger
that opens higher up (``level`` in its settings: slow rectification measures go straight to 约谈, "直接约谈
乡镇党委主要负责同志", 004 §一.3) skips the levels below it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from domain.calendar import WorkCalendar
from domain.definitions import Escalation as EscalationSpec
from domain.definitions import FieldType, Form, FormField
from domain.hollow import hollow_finding
from domain.triggers import TRIGGERS


def level_dates(due_on: dt.date, delays: Sequence[int], calendar: WorkCalendar) -> list[dt.date]:
    """The day each level of the ladder is reached when nothing is submitted."""
    out = []
    day = due_on
    for delay in delays:
        day = calendar.add_workdays(day, delay) if delay else day
        out.append(day)
    return out


def level_reached(due_on: dt.date, delays: Sequence[int], calendar: WorkCalendar, today: dt.date, *, start: int = 1,
                  first_delay: int | None = None) -> int:
    """The highest level (1..n, 0 for none) something due on ``due_on`` and still missing has reached by ``today``.

    A climb that opens at level ``start`` skips the levels below it: its first step comes ``first_delay``
    working days after ``due_on`` (default: the ladder's first delay, when 催办 would have come), each later
    level its own delay after the previous one.
    """
    climb = [delays[0] if first_delay is None else first_delay, *delays[start:]] if delays else []
    reached = sum(1 for day in level_dates(due_on, climb, calendar) if day <= today)
    return start - 1 + reached if reached else 0


def trigger_level_reached(escalation: EscalationSpec, trigger: str, due_on: dt.date, calendar: WorkCalendar,
                          today: dt.date) -> int:
    """The level a time-based trigger (``overdue``, ``measures_overdue``) has reached by ``today`` on the
    definition's ladder, from the level its settings open at (``level``) and their ``after_workdays``."""
    spec = escalation.triggers.of(TRIGGERS[trigger])
    return level_reached(due_on, [lv.after_workdays for lv in escalation.ladder], calendar, today,
                         start=escalation.level_index(trigger), first_delay=spec.after_workdays)


# ---- 零上报 and hollow reports (000_a28a7778217e042c.txt §四(二)(三)) ---------------------------------


def hollow_sections(form: Form, data: dict[str, Any], *, boilerplate: Sequence[str], min_chars: int) -> list[str]:
    """One finding per required text section that says nothing (``domain.hollow``), quoting what was written."""
    findings = []
    for f in form.fields:
        if f.type is FieldType.TEXTAREA and f.required:
            finding = hollow_finding(f.label, data.get(f.key), boilerplate=boilerplate, min_chars=min_chars)
            if finding:
                findings.append(finding)
    return findings


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
      say anything (``hollow_sections``, quoted);
    - a village list that leaves out a village the county knows is weak (已知的后进薄弱村:
      ``known_weak_villages``, code → how it is described), or left empty with a hollow explanation (quoted).
    """
    findings = hollow_sections(form, data, boilerplate=boilerplate, min_chars=min_chars)
    for f in form.fields:
        if f.type is FieldType.VILLAGES:
            findings += _list_findings(f, data.get(f.key) or [], data, form, boilerplate, min_chars, known_weak_villages)
    return findings


def _list_findings(f: FormField, listed: Sequence[str], data: dict[str, Any], form: Form,
                   boilerplate: Sequence[str], min_chars: int, known: Mapping[str, str]) -> list[str]:
    """000 §四(三): a list that leaves out known weak villages (all of them: 零上报), or an empty one without a
    real reason (what was written is quoted)."""
    omitted = [described for code, described in known.items() if code not in listed]
    if omitted and not listed:
        return [f"“{f.label}”未列出任何村，但本乡镇有已知的后进薄弱村：{'、'.join(omitted)}"]
    if omitted:
        return [f"“{f.label}”未列入本乡镇已知的后进薄弱村：{'、'.join(omitted)}"]
    if listed:
        return []
    findings = []
    for reason in (o for o in form.fields if o.required_when_empty == f.key):
        why = hollow_finding(reason.label, data.get(reason.key), boilerplate=boilerplate, min_chars=min_chars)
        if why:
            findings.append(f"“{f.label}”未列出任何村，{why}")
    return findings
