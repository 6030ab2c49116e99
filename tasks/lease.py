"""Named leases in the database, so that one periodic job runs in one process at a time."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from models import Lease


def acquire(engine: Engine, name: str, holder: str, now: dt.datetime, ttl: dt.timedelta) -> bool:
    """Take (or renew) the lease ``name`` for ``holder`` until ``now + ttl``; False if another holds it."""
    with Session(engine) as session:
        taken = session.execute(
            update(Lease)
            .where(col(Lease.name) == name, (col(Lease.holder) == holder) | (col(Lease.expires_at) < now))
            .values(holder=holder, expires_at=now + ttl)
        ).rowcount  # type: ignore[attr-defined]
        if taken:
            session.commit()
            return True
        if session.get(Lease, name) is not None:
            session.rollback()
            return False
        session.add(Lease(name=name, holder=holder, expires_at=now + ttl))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return False
        return True


def release(engine: Engine, name: str, holder: str) -> None:
    with Session(engine) as session:
        session.execute(update(Lease).where(col(Lease.name) == name, col(Lease.holder) == holder)
                        .values(expires_at=Lease.expires_at - dt.timedelta(days=3650)))
        session.commit()
