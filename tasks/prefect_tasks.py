"""The Prefect task wrappers of duban's DB steps."""

from __future__ import annotations

import datetime as dt
from typing import Any

import anyio
from prefect import task
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from core.db import get_engine
from domain.errors import DubanError
from domain.planning import LateStart
from tasks.audit import SYSTEM, AuditActor
from tasks.launch import LaunchOutcome, launch_many, launch_one


def retry_transient(_task: Any, _run: Any, state: Any) -> bool:
    """Retry only what may succeed next time: lost connections and lock timeouts, never a 4xx."""
    exc = state.data if isinstance(state.data, BaseException) else None
    if exc is None:
        try:
            state.result(raise_on_failure=True)
        except BaseException as raised:  # noqa: BLE001 - inspecting, not swallowing
            exc = raised
    if isinstance(exc, DubanError):
        return False
    return isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


def retry_race(task_: Any, run: Any, state: Any) -> bool:
    """For idempotent steps: also retry when a concurrent run won a unique key (the re-run skips it)."""
    exc = state.data if isinstance(state.data, BaseException) else None
    return isinstance(exc, IntegrityError) or retry_transient(task_, run, state)


@task(name="launch_township", retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=retry_transient)
async def launch_township(
    definition: str, township: str, year: int, now: dt.datetime, idempotency: tuple[str, str] | None = None,
    late: LateStart | None = None,
    by: tuple[int | None, str] | None = None,
) -> LaunchOutcome:
    return await anyio.to_thread.run_sync(launch_one, get_engine(), definition, township, year, now, idempotency, late,
                                          audit_actor(by))


@task(name="launch_chunk", retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=retry_transient)
async def launch_chunk(definition: str, townships: list[str], year: int, now: dt.datetime,
                       late: LateStart | None = None,
                       by: tuple[int | None, str] | None = None) -> list[dict[str, Any]]:
    return await anyio.to_thread.run_sync(launch_many, get_engine(), definition, townships, year, now, late,
                                          audit_actor(by))


def audit_actor(by: tuple[int | None, str] | None) -> AuditActor:
    """The launch's actor from a flow parameter (plain data, so that Prefect can store it)."""
    return SYSTEM if by is None else AuditActor(by[0], by[1])
