"""The injectable clock. Domain code receives ``now``; nothing reads the wall clock directly."""

from __future__ import annotations

import datetime as dt
from typing import Protocol
from zoneinfo import ZoneInfo

CHINA_TZ = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """An aware datetime."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FakeClock:
    """A virtual clock for tests and simulations: it moves only when told to."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start

    def now(self) -> dt.datetime:
        return self._now

    def set(self, when: dt.datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = when

    def advance(self, delta: dt.timedelta) -> None:
        self._now += delta


def china_date(moment: dt.datetime) -> dt.date:
    """The date of ``moment`` in China, where every deadline of the documents is counted."""
    return moment.astimezone(CHINA_TZ).date()


def local_today(clock: Clock) -> dt.date:
    """Today's date in China."""
    return china_date(clock.now())


_clock: Clock = SystemClock()


def get_clock() -> Clock:
    return _clock


def set_clock(clock: Clock) -> None:
    global _clock
    _clock = clock
