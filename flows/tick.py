"""The periodic flows: ``tick`` (the calendar) and ``deliver_notifications`` (the outbox)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import anyio
from prefect import flow, task

from core import metrics
from core.db import get_engine, session_scope
from core.settings import get_settings
from flows.params import moment
from tasks.prefect_tasks import retry_race
from tasks.tick import TICK, TickTransaction, run_transaction


def _in_transaction(transaction: TickTransaction, now: dt.datetime) -> dict[str, int]:
    with session_scope(get_engine()) as session:
        return run_transaction(session, transaction, now)


def _tick_task(transaction: TickTransaction) -> Any:
    """The Prefect task of one transaction of ``tasks.tick.TICK`` (retried: every step is idempotent)."""

    @task(name=transaction.name, retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=retry_race)
    async def run(now: dt.datetime) -> dict[str, int]:
        return await anyio.to_thread.run_sync(_in_transaction, transaction, now)  # type: ignore[no-any-return]

    return run


TICK_TASKS: dict[str, Any] = {transaction.name: _tick_task(transaction) for transaction in TICK}


@flow(name="tick", validate_parameters=False)
async def tick(now: dt.datetime | str | None = None) -> dict[str, int]:
    """One step of the campaign calendar (``tasks.tick.TICK``, a task per transaction); safe to run any number
    of times for the same moment."""
    now = moment(now)
    counts: dict[str, int] = {}
    for transaction in TICK:
        counts.update(await TICK_TASKS[transaction.name](now))
    return counts


def smtp_mailer() -> Any:
    from notifications.mailer import SmtpMailer

    s = get_settings()
    password = s.smtp_password.get_secret_value() if s.smtp_password is not None else None
    return SmtpMailer(s.smtp_host, s.smtp_port, username=s.smtp_username, password=password,
                      use_tls=s.smtp_tls, start_tls=s.smtp_starttls, timeout=s.smtp_timeout)


_mailer_override: Any = None


def set_mailer(mailer: Any) -> None:
    """Tests and simulations swap the edge (e.g. a MemoryMailer); None restores SMTP."""
    global _mailer_override
    _mailer_override = mailer


@flow(name="deliver_notifications", validate_parameters=False)
async def deliver_notifications(now: dt.datetime | str | None = None, batch: int = 200) -> dict[str, int]:
    """Send what the outbox holds: retried with backoff on temporary failures, dead-lettered on permanent ones."""
    from dataclasses import asdict

    from flows.scheduler import HOLDER
    from notifications.delivery import deliver_pending

    stats = await deliver_pending(get_engine(), _mailer_override or smtp_mailer(), moment(now),
                                  holder=HOLDER, batch=batch)
    counts = asdict(stats)
    for outcome, n in counts.items():
        metrics.DELIVERIES.labels(outcome).inc(n)
    return counts
