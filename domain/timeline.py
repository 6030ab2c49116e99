"""A campaign's stages laid out on the official calendar, as fractions of the span they cover: where each stage
starts and ends, the months, the statutory holidays and today. Pure: the page draws it (an SVG, no script)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from domain.calendar import WorkCalendar


@dataclass(frozen=True)
class Bar:
    """A stretch of the timeline: ``x`` and ``width`` are fractions (0–1) of its whole span."""

    start: dt.date
    end: dt.date
    x: float
    width: float


@dataclass(frozen=True)
class Timeline:
    start: dt.date
    end: dt.date
    stages: list[Bar]  # in the order given
    months: list[Bar]  # each calendar month (clipped to the span)
    holidays: list[Bar]  # runs of days off that hold a statutory holiday (weekends alone are not shaded)
    today: float | None  # where today falls, None outside the span


def _bar(start: dt.date, end: dt.date, first: dt.date, days: int) -> Bar:
    return Bar(start, end, (start - first).days / days, ((end - start).days + 1) / days)


def _months(first: dt.date, last: dt.date, days: int) -> list[Bar]:
    out, day = [], first
    while day <= last:
        following = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
        out.append(_bar(day, min(last, following - dt.timedelta(days=1)), first, days))
        day = following
    return out


def _holidays(calendar: WorkCalendar, first: dt.date, last: dt.date, days: int) -> list[Bar]:
    """Runs of consecutive days off with at least one weekday among them (春节, 国庆节 …, with their weekends)."""
    out: list[Bar] = []
    run: list[dt.date] = []
    day = first
    while day <= last + dt.timedelta(days=1):
        if day <= last and not calendar.is_workday(day):
            run.append(day)
        else:
            if any(d.weekday() < 5 for d in run):
                out.append(_bar(run[0], run[-1], first, days))
            run = []
        day += dt.timedelta(days=1)
    return out


def campaign_timeline(stages: Sequence[tuple[dt.date, dt.date]], calendar: WorkCalendar, today: dt.date) -> Timeline:
    """The timeline of stages given as (opens_on, closes_on), from the first month's first day to the last
    month's last day."""
    first = min(s for s, _ in stages).replace(day=1)
    end = max(e for _, e in stages)
    last = dt.date(end.year + end.month // 12, end.month % 12 + 1, 1) - dt.timedelta(days=1)
    days = (last - first).days + 1
    return Timeline(
        start=first, end=last, stages=[_bar(s, e, first, days) for s, e in stages], months=_months(first, last, days),
        holidays=_holidays(calendar, first, last, days),
        today=(today - first).days / days if first <= today <= last else None,
    )
