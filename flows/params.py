"""Flow parameters as a deployment run delivers them.

A run created through Prefect's API (a schedule, ``prefect deployment run``, ``run_deployment``) carries its
parameters as JSON, and the flows skip Prefect's parameter validation (it costs more than the flow), so a
worker hands them ``now`` as an ISO 8601 string. Flows called in-process get a ``datetime``.
"""

from __future__ import annotations

import datetime as dt

from core.clock import CHINA_TZ, get_clock


def moment(now: dt.datetime | str | None) -> dt.datetime:
    """``now`` as an aware datetime: the clock's when absent; a naive value is China time, as in ``duban tick --at``."""
    if now is None:
        return get_clock().now()
    if isinstance(now, str):
        now = dt.datetime.fromisoformat(now)
    return now if now.tzinfo else now.replace(tzinfo=CHINA_TZ)
