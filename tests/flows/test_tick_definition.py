"""The tick is defined once, in ``tasks.tick.TICK``: the Prefect flow (``flows.tick.tick``, a task per transaction)
and the driver of the simulation, the benchmarks and the tests (``tasks.tick.run_tick``, which
``tests.support.tick`` wraps) run the same steps, in the same order, committed at the same boundaries, and
leave the same database behind.

Both run on equal databases (one a copy of the other) at the same moments. Each step is recorded when its
function is called (the function of ``tasks`` that bears the step's name, wrapped for the test) and each commit
of the database's connections when it happens; inside the flow, each step also records the Prefect task it ran in.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import inspect
import pkgutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from prefect.context import TaskRunContext
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import select

import tasks
from core.db import get_engine, make_engine, session_scope
from flows.tick import TICK_TASKS
from flows.tick import tick as tick_flow
from models import User
from tasks.tick import TICK, run_tick
from tests.support import postgres
from tests.support.clock import at
from tests.support.databases import copy_database, db_snapshot
from tests.support.world import launch

LAUNCH = at(dt.date(2025, 9, 25))
# 9 Oct: the list of weak villages is one working day from its deadline (reminders); 8 Dec: the list was missed
# and climbs the ladder (no list, so no village owes a plan or weekly reports), stage 集中整顿 opens, and so does
# the window of the Q4 quarterly report.
MOMENTS = (at(dt.date(2025, 10, 9)), at(dt.date(2025, 12, 8)))
COMMIT = "COMMIT"
# A PDF carries the wall-clock time it was typeset at (and its hash with it): the only difference allowed.
TYPESET = frozenset({"official_documents.pdf", "official_documents.sha256"})


def declared() -> list[str]:
    """What ``TICK`` declares: its steps in order, a commit after the steps of each transaction."""
    return [name for transaction in TICK for name in [*(s.name for s in transaction.steps), COMMIT]]


def step_homes() -> dict[str, ModuleType]:
    """The module of ``tasks`` that defines the function of each step of ``TICK`` (one, by the step's name)."""
    modules = [importlib.import_module(f"tasks.{m.name}") for m in pkgutil.iter_modules(tasks.__path__)]
    homes: dict[str, ModuleType] = {}
    for transaction in TICK:
        for step in transaction.steps:
            found = [m for m in modules if inspect.isfunction(fn := getattr(m, step.name, None))
                     and fn.__module__ == m.__name__]
            assert len(found) == 1, f"step {step.name!r}: defined in {[m.__name__ for m in found]}"
            homes[step.name] = found[0]
    return homes


class Recorder:
    """Step names and commits, in the order they happen; the Prefect task each step ran in."""

    def __init__(self) -> None:
        self.sequence: list[str] = []
        self.tasks: list[tuple[str, str | None]] = []
        self.active = False

    def step(self, name: str) -> None:
        if self.active:
            context = TaskRunContext.get()
            self.sequence.append(name)
            self.tasks.append((name, context.task.name if context is not None else None))

    def commit(self, conn: Any) -> None:
        if self.active:
            self.sequence.append(COMMIT)

    def start(self) -> None:
        self.sequence.clear()
        self.tasks.clear()
        self.active = True


def record_steps(monkeypatch: pytest.MonkeyPatch, recorders: dict[Engine, Recorder]) -> None:
    """Wrap the function of every step so that it tells the recorder of the engine it runs on."""
    for name, module in step_homes().items():
        real = getattr(module, name)

        def recorded(session: Any, *args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            recorders[session.get_bind()].step(_name)
            return _real(session, *args, **kwargs)

        monkeypatch.setattr(module, name, functools.wraps(real)(recorded))


def test_the_flow_has_a_task_per_transaction_named_after_it() -> None:
    assert list(TICK_TASKS) == [transaction.name for transaction in TICK]
    assert [task.name for task in TICK_TASKS.values()] == [transaction.name for transaction in TICK]
    names = [step.name for transaction in TICK for step in transaction.steps]
    assert len(names) == len(set(names)), "two steps of TICK share a name"
    assert set(step_homes()) == set(names)  # every step is a function of ``tasks`` that exists


async def test_the_flow_and_run_tick_run_the_same_steps_in_the_same_transactions(
    demo_county: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    launch(demo_county, ("QX01", "QX02", "QX03"), LAUNCH)
    with session_scope(demo_county) as s:  # a digest reader, so that the digest step has work too
        reader = s.exec(select(User).where(User.username == "qx02-liaison")).one()
        reader.daily_digest = True
        s.add(reader)
    url, pg_name = copy_database(demo_county, tmp_path / "copy.db")
    flow_engine, driver_engine = get_engine(), make_engine(url)
    try:
        recorders = {flow_engine: Recorder(), driver_engine: Recorder()}
        for engine, recorder in recorders.items():
            event.listen(engine, "commit", recorder.commit)
        record_steps(monkeypatch, recorders)
        assert db_snapshot(flow_engine, TYPESET) == db_snapshot(driver_engine, TYPESET)

        worked: set[str] = set()
        for now in MOMENTS:
            for recorder in recorders.values():
                recorder.start()
            by_flow = await tick_flow(now=now)
            by_driver = run_tick(driver_engine, now)
            flow, driver = recorders[flow_engine], recorders[driver_engine]
            assert flow.sequence == driver.sequence == declared()
            assert flow.tasks == [(s.name, t.name) for t in TICK for s in t.steps]  # each step in its transaction's task
            assert by_flow == by_driver
            assert db_snapshot(flow_engine, TYPESET) == db_snapshot(driver_engine, TYPESET)
            worked |= {name for name, n in by_flow.items() if n}
        # The comparison means something: every kind of work was done at one of the moments.
        assert worked >= {"stages_opened", "obligations_missed", "escalations", "windows_opened", "reminders", "digests"}
    finally:
        driver_engine.dispose()
        if pg_name:
            postgres.drop_database(pg_name)
