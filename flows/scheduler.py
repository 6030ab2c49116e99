"""Embedded mode: APScheduler fires ``tick`` and ``deliver_notifications`` as Prefect flows in-process.

A DB lease makes sure that, with several API processes (``uvicorn --workers 4``), each tick runs in
one of them only. In scale-out mode (``DUBAN_SCHEDULER=prefect``) Prefect's own schedules fire the
same flows from the deployments in ``prefect.yaml`` and this scheduler stays off.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
from collections.abc import Callable, Coroutine
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from core.clock import get_clock
from core.db import get_engine
from core.settings import get_settings
from tasks.lease import acquire

log = logging.getLogger("duban.scheduler")
HOLDER = f"{socket.gethostname()}:{os.getpid()}"


def run_leased(name: str, flow: Callable[..., Coroutine[Any, Any, Any]], ttl: dt.timedelta) -> Any:
    """Run ``flow`` if this process holds the lease ``name``; returns its result or None."""
    now = get_clock().now()
    if not acquire(get_engine(), name, HOLDER, now, ttl):
        return None
    try:
        return asyncio.run(flow(now=now))
    except Exception:  # noqa: BLE001 - Prefect recorded the failure; the next run tries again
        log.exception("%s failed", name)
        return None


def anchor_daily() -> None:
    """The daily audit anchor (``duban audit anchor``), in one process of several (a lease)."""
    from core.db import session_scope
    from tasks.anchor import append_anchor, database_dir
    from tasks.audit import TICK

    now = get_clock().now()
    if not acquire(get_engine(), "audit_anchor", HOLDER, now, dt.timedelta(hours=1)):
        return
    try:
        with session_scope() as session:
            append_anchor(session, get_settings().audit_anchor_file, now, by=TICK,
                          database_dir=database_dir(get_engine()))
    except Exception:  # noqa: BLE001 - logged; tomorrow's run tries again
        log.exception("audit anchor failed")


def start_embedded_scheduler() -> BackgroundScheduler:
    from flows.tick import deliver_notifications, tick

    settings = get_settings()
    scheduler = BackgroundScheduler(timezone=settings.timezone)
    scheduler.add_job(run_leased, "interval", seconds=settings.tick_seconds, id="tick", max_instances=1,
                      coalesce=True, args=("tick", tick, dt.timedelta(seconds=settings.tick_seconds * 5)),
                      next_run_time=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5))
    scheduler.add_job(run_leased, "interval", seconds=settings.deliver_seconds, id="deliver", max_instances=1,
                      coalesce=True, args=("deliver_notifications", deliver_notifications,
                                           dt.timedelta(seconds=max(60, settings.deliver_seconds * 6))))
    scheduler.add_job(anchor_daily, "cron", hour=settings.audit_anchor_hour, id="audit_anchor", max_instances=1,
                      coalesce=True)
    scheduler.start()
    return scheduler
