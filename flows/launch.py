"""Launch flows: one township's campaign, or a batch fanned out in chunks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import anyio
from prefect import flow

from core.db import get_engine
from core.settings import get_settings
from domain.planning import LateStart
from flows.params import moment
from tasks.launch import all_township_codes
from tasks.prefect_tasks import launch_chunk, launch_township
from tasks.registry import get_definition


@flow(name="launch_campaign", flow_run_name="launch-{definition}-{township}-{year}", validate_parameters=False)
async def launch_campaign(
    definition: str,
    township: str,
    year: int,
    now: dt.datetime | str | None = None,
    idempotency: tuple[str, str] | None = None,
    late: LateStart | None = None,
    by: tuple[int | None, str] | None = None,
) -> dict[str, Any]:
    """Create the campaign of ``definition`` for ``township`` in ``year`` with all its deadlines.

    Re-running it is harmless: a campaign launched before comes back with status ``exists``. ``late`` says what
    becomes of the deadlines already past (waived unless it asks for a catch-up); ``affected`` lists them. ``by`` is
    who launched it, ``(user id, username)``, for the audit trail (None: duban itself).
    """
    outcome = await launch_township(definition, township, year, moment(now), idempotency, late, by)
    return {"campaign_id": outcome.campaign_id, "status": outcome.status, "detail": outcome.detail,
            "affected": outcome.affected}


def _all_townships() -> list[str]:
    from sqlmodel import Session

    with Session(get_engine()) as session:
        return all_township_codes(session)


@flow(name="launch_for_townships", flow_run_name="launch-{definition}-{year}-batch", validate_parameters=False)
async def launch_for_townships(
    definition: str,
    year: int,
    townships: list[str] | None = None,
    now: dt.datetime | str | None = None,
    chunk_size: int | None = None,
    progress: Callable[[int], None] | None = None,
    late: LateStart | None = None,
    by: tuple[int | None, str] | None = None,
) -> list[dict[str, Any]]:
    """Launch many townships: one task per chunk of townships, each township in its own transaction."""
    get_definition(definition)  # fail fast on an unknown definition
    now = moment(now)
    codes = townships if townships is not None else await anyio.to_thread.run_sync(_all_townships)
    codes = list(dict.fromkeys(codes))
    size = chunk_size or get_settings().launch_chunk_size
    items: list[dict[str, Any]] = []
    for start in range(0, len(codes), size):
        chunk = codes[start : start + size]
        items.extend(await launch_chunk(definition, chunk, year, now, late, by))
        if progress:
            progress(len(chunk))
    return items
