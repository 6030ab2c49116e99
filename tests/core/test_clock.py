from __future__ import annotations

import datetime as dt

import pytest

from core.clock import CHINA_TZ, FakeClock, local_today


def test_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(dt.datetime(2025, 3, 19, 23, 30, tzinfo=dt.UTC))
    assert local_today(clock) == dt.date(2025, 3, 20)  # already the 20th in Beijing
    clock.advance(dt.timedelta(days=1))
    assert clock.now() == dt.datetime(2025, 3, 20, 23, 30, tzinfo=dt.UTC)
    clock.set(dt.datetime(2026, 1, 1, tzinfo=CHINA_TZ))
    assert local_today(clock) == dt.date(2026, 1, 1)
    with pytest.raises(ValueError):
        FakeClock(dt.datetime(2025, 1, 1))
