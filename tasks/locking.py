"""Optimistic locking of the rows people decide on (submissions, escalations, cases, rectifications).

A decision names the ``version`` of the row it was made on. :func:`require_version` refuses a missing version
(422) or a stale one (409) before any rule runs; :func:`save_versioned` is the one compare-and-set —
``UPDATE … SET version = version + 1 WHERE id = … AND version = …`` — so that of two decisions racing past
the check exactly one writes, and it writes the decision's audit event in the same transaction. Every stale
version answers with :class:`domain.errors.StaleVersion`, one 409 shape carrying ``current_version``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlmodel import Session, col

from domain.errors import StaleVersion, ValidationFailed
from tasks.accounts import Principal
from tasks.audit import append_event, jsonable


class Versioned(Protocol):
    """A table row with an optimistic-lock column."""

    id: int | None
    version: int


@dataclass(frozen=True)
class Audit:
    """The audit event a versioned save writes with the change. ``after`` may be a function, called once the
    row holds its new values (e.g. a snapshot of the saved row)."""

    principal: Principal
    action: str
    subject_type: str
    township_id: int | None
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None
    now: dt.datetime


def require_version(row: Versioned, version: int | None, *, what: str) -> int:
    """The version the client decided on: 422 when it sent none, 409 when the row has moved on since."""
    if version is None:
        raise ValidationFailed(f"请提供{what}的当前版本号 version（用于防止重复或冲突的操作）",
                               errors=[{"field": "version", "message": "required"}])
    if version != row.version:
        raise StaleVersion(what, row.version)
    return version


def save_versioned(session: Session, row: Versioned, expected_version: int, values: Mapping[str, Any], *,
                   what: str, audit: Audit | None = None) -> None:
    """Write ``values`` to ``row`` only if it still has ``expected_version`` (bumping it), refresh ``row`` from
    the saved row and write ``audit``. A lost race rolls the transaction back and raises :class:`StaleVersion`."""
    model: Any = type(row)
    row_id = row.id
    # The UPDATE hands the saved row back (RETURNING) and it replaces what ``row`` held, as a re-read would: one
    # statement, and ``row`` holds the values as the database stored them (UTC datetimes, JSON read back).
    saved = session.execute(
        update(model).where(col(model.id) == row_id, col(model.version) == expected_version)
        .values(**values, version=expected_version + 1).returning(model),
        execution_options={"populate_existing": True, "synchronize_session": False},
    ).scalars().first()
    if saved is None:
        session.rollback()
        raise StaleVersion(what, session.scalar(select(model.version).where(col(model.id) == row_id)))
    assert saved is row, "the saved row is the one in the session"
    if audit is not None:
        after = audit.after() if callable(audit.after) else audit.after
        user = audit.principal.user
        append_event(session, actor_id=user.id, actor=user.username, action=audit.action,
                     subject_type=audit.subject_type, subject_id=row_id or 0, township_id=audit.township_id,
                     before=jsonable(audit.before), after=jsonable(after), now=audit.now)
