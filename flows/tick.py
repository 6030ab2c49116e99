"""The periodic flows: ``tick`` (the calendar) and ``deliver_notifications`` (the outbox)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import anyio
from prefect import flow, task

from core.clock import china_date
from core.db import get_engine, session_scope
from core.settings import get_settings
from flows.params import moment
from tasks.prefect_tasks import retry_race
from tasks.review import close_notice_periods
from tasks.tick import (
    advance_stages,
    build_digests,
    climb_ladder,
    enqueue_reminders,
    mark_missed,
    open_obligations,
)


def _in_transaction(step: Any, now: dt.datetime) -> Any:
    with session_scope(get_engine()) as session:
        return step(session, now)


@task(name="advance_calendar", retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=retry_race)
async def advance_calendar(now: dt.datetime) -> dict[str, int]:
    def step(session: Any, now: dt.datetime) -> dict[str, int]:
        today = china_date(now)
        counts = advance_stages(session, today)
        counts["obligations_missed"] = mark_missed(session, today)
        counts["escalations"] = climb_ladder(session, now)
        counts["stages_passed_after_notice"] = close_notice_periods(session, now)
        return counts

    return await anyio.to_thread.run_sync(_in_transaction, step, now)  # type: ignore[no-any-return]


@task(name="open_reporting_windows", retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=retry_race)
async def open_reporting_windows(now: dt.datetime) -> int:
    return await anyio.to_thread.run_sync(_in_transaction, open_obligations, now)  # type: ignore[no-any-return]


@task(name="enqueue_reminders", retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=retry_race)
async def enqueue_due_reminders(now: dt.datetime) -> int:
    return await anyio.to_thread.run_sync(_in_transaction, enqueue_reminders, now)  # type: ignore[no-any-return]


@task(name="build_digests", retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=retry_race)
async def build_daily_digests(now: dt.datetime) -> int:
    hour = get_settings().digest_hour
    return await anyio.to_thread.run_sync(_in_transaction, lambda s, n: build_digests(s, n, hour), now)  # type: ignore[no-any-return]


@flow(name="tick", validate_parameters=False)
async def tick(now: dt.datetime | str | None = None) -> dict[str, int]:
    """One step of the campaign calendar; safe to run any number of times for the same moment."""
    now = moment(now)
    counts = await advance_calendar(now)
    counts["windows_opened"] = await open_reporting_windows(now)
    counts["reminders"] = await enqueue_due_reminders(now)
    counts["digests"] = await build_daily_digests(now)
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
    return asdict(stats)
