"""The virtual clock of the tests: moments in China time and a FakeClock installed for a test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from core import clock as clock_module
from core.clock import CHINA_TZ, FakeClock

START = dt.datetime(2025, 1, 2, 9, 0, tzinfo=CHINA_TZ)
"""Where the ``clock`` fixture starts: a working Thursday morning at the start of 2025."""


def at(day: dt.date, hour: int = 9, minute: int = 0) -> dt.datetime:
    """``day`` at ``hour``:``minute`` China time (the tick of the scheduler runs at 09:00)."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHINA_TZ)


def days(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every day from ``start`` to ``end``, both included."""
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


@contextmanager
def fake_clock(start: dt.datetime = START) -> Iterator[FakeClock]:
    """A FakeClock that the application reads (``core.clock.get_clock``) until the block ends."""
    fake = FakeClock(start)
    previous = clock_module.get_clock()
    clock_module.set_clock(fake)
    try:
        yield fake
    finally:
        clock_module.set_clock(previous)
