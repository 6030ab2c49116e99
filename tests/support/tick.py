"""The tick driver of the tests: the production tick (``tasks.tick.TICK`` through ``run_tick``), never a copy of
its steps. A test that has to stop inside the tick names the step to stop at (``tick_until``) or runs one named
step or transaction of ``TICK`` (``tick_step``, ``tick_transaction``)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable

from sqlalchemy.engine import Engine

from core.db import session_scope
from tasks.tick import TICK, TickStep, TickTransaction, run_tick, run_transaction
from tests.support.clock import at


def tick(engine: Engine, now: dt.datetime) -> dict[str, int]:
    """The whole tick at ``now``: each transaction of ``TICK`` committed before the next (as the flow runs it)."""
    return run_tick(engine, now)


def tick_days(engine: Engine, days: Iterable[dt.date], hours: int | Iterable[int] = 9) -> Counter[str]:
    """The tick at ``hours`` (one hour or several, in order) of each of ``days``; the counts added up."""
    each = (hours,) if isinstance(hours, int) else tuple(hours)
    total: Counter[str] = Counter()
    for day in days:
        for hour in each:
            total.update(run_tick(engine, at(day, hour)))
    return total


def tick_transaction(name: str) -> TickTransaction:
    """The transaction of ``TICK`` called ``name`` (the name of its Prefect task)."""
    for transaction in TICK:
        if transaction.name == name:
            return transaction
    raise KeyError(f"no transaction {name!r} in TICK: {[t.name for t in TICK]}")


def tick_step(name: str) -> TickStep:
    """The step of ``TICK`` called ``name``."""
    for transaction in TICK:
        for step in transaction.steps:
            if step.name == name:
                return step
    raise KeyError(f"no step {name!r} in TICK: {[s.name for t in TICK for s in t.steps]}")


def tick_until(engine: Engine, now: dt.datetime, step: str) -> dict[str, int]:
    """The tick at ``now`` up to, not including, the step called ``step``: the transactions before it, each
    committed, then the steps of its own transaction that come before it, committed together."""
    counts: dict[str, int] = {}
    for transaction in TICK:
        names = [s.name for s in transaction.steps]
        if step not in names:
            counts |= run_tick(engine, now, transactions=[transaction])
            continue
        before = TickTransaction(transaction.name, transaction.steps[: names.index(step)])
        with session_scope(engine) as session:
            counts |= run_transaction(session, before, now)
        return counts
    raise KeyError(f"no step {step!r} in TICK")
