"""What an operator's probes read from the database: readiness (reachable, migrations current) and the outbox
and scheduler numbers that ``/metrics`` reports at each scrape."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, text
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from domain.vocabulary import OutboxStatus
from models import Lease, OutboxMessage
from models.migrate import alembic_config

__all__ = ["OpsNumbers", "Readiness", "ops_numbers", "readiness"]


@dataclass(frozen=True)
class Readiness:
    """``checks`` name each probe and what it found; ready when every one is ``ok``."""

    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        return all(v == "ok" for v in self.checks.values())


def _migrations(engine: Engine) -> str:
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if current == heads:
        return "ok"
    return f"database at {sorted(current) or 'no revision'}, code expects {sorted(heads)}: run duban db upgrade"


def readiness(engine: Engine) -> Readiness:
    """The database answers and its schema is at the code's migration head."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means not ready; its class names it
        return Readiness({"database": f"unreachable: {type(exc).__name__}", "migrations": "unknown"})
    return Readiness({"database": "ok", "migrations": _migrations(engine)})


@dataclass(frozen=True)
class OpsNumbers:
    outbox: dict[str, int]
    oldest_pending_seconds: float
    leases: list[tuple[str, str]] = field(default_factory=list)


def ops_numbers(session: Session, now: dt.datetime) -> OpsNumbers:
    """Outbox messages by status, the age of the oldest one still waiting, and the unexpired leases."""
    by_status = {str(s): int(n) for s, n in session.execute(
        sa_select(col(OutboxMessage.status), func.count()).group_by(col(OutboxMessage.status))).tuples()}
    waiting = (OutboxStatus.PENDING, OutboxStatus.SENDING)
    oldest = session.execute(sa_select(func.min(col(OutboxMessage.created_at)))
                             .where(col(OutboxMessage.status).in_(waiting))).scalar()
    age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    leases = [(str(n), str(h)) for n, h in session.execute(
        sa_select(col(Lease.name), col(Lease.holder)).where(col(Lease.expires_at) > now)).tuples()]
    return OpsNumbers(outbox={s.value: by_status.get(s.value, 0) for s in OutboxStatus} | by_status,
                      oldest_pending_seconds=age, leases=leases)
