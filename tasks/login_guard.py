"""Sign-in throttling: after too many failed sign-ins for a username, that username is locked for a while.

The failures and lockouts are events of the audit trail (``auth.login_failed``, ``auth.locked``), and the
lockout state is read back from it, so no table holds it. Usernames that do not exist are counted and
locked exactly like real ones, and every attempt that is not refused outright checks a password hash, so
neither the answers nor their timing tell which usernames exist. Passwords are never recorded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from core.clock import CHINA_TZ
from core.settings import get_settings
from models import AuditEvent, User
from tasks.accounts import authenticate
from tasks.audit import append_event

__all__ = ["LOCKED", "LOGIN_FAILED", "Lockout", "attempt_login", "lockout_for"]

LOGIN_FAILED = "auth.login_failed"
LOCKED = "auth.locked"
_SUBJECT = "login"
_ACTOR_MAX = 100  # the audit trail's actor column


@dataclasses.dataclass(frozen=True)
class Lockout:
    """A username refused until ``until``."""

    until: dt.datetime

    def retry_after(self, now: dt.datetime) -> int:
        """Seconds until sign-in is possible again (the ``Retry-After`` header), at least 1."""
        return max(1, math.ceil((self.until - now).total_seconds()))

    def message(self, now: dt.datetime) -> str:
        minutes = math.ceil(self.retry_after(now) / 60)
        at = self.until.astimezone(CHINA_TZ).strftime("%H:%M")
        return f"登录失败次数过多，该账户已暂时锁定，请在 {minutes} 分钟后（北京时间 {at} 以后）重试"


def _window() -> dt.timedelta:
    return dt.timedelta(minutes=get_settings().login_lockout_minutes)


def _key(username: str) -> str:
    return username[:_ACTOR_MAX]


def lockout_for(session: Session, username: str, now: dt.datetime) -> Lockout | None:
    """The lockout in force for ``username`` at ``now``, read from the audit trail's recent events."""
    window = _window()
    rows = session.execute(
        sa_select(col(AuditEvent.action), col(AuditEvent.at))
        .where(col(AuditEvent.actor) == _key(username))
        .where(col(AuditEvent.action).in_((LOGIN_FAILED, LOCKED)))
        .where(col(AuditEvent.subject_type) == _SUBJECT)
        .where(col(AuditEvent.at) > now - window)
        .order_by(col(AuditEvent.seq))
    ).all()
    locks = [at for action, at in rows if action == LOCKED]
    if locks:
        return Lockout(until=locks[-1] + window)
    failures = [at for action, at in rows if action == LOGIN_FAILED]
    limit = get_settings().login_max_failures
    if len(failures) >= limit:  # concurrent failures passed the limit before one of them wrote the lock
        return Lockout(until=failures[-limit] + window)
    return None


def _record(session: Session, action: str, username: str, now: dt.datetime, after: dict[str, object]) -> None:
    append_event(session, actor_id=None, actor=_key(username), action=action, subject_type=_SUBJECT,
                 subject_id=0, township_id=None, before=None, after={"username": _key(username), **after}, now=now)


def attempt_login(
    session: Session, username: str, password: str, now: dt.datetime, *, channel: str, client: str | None,
) -> User | Lockout | None:
    """Sign in ``username``: the user, ``None`` for a wrong username or password, or the lockout in force.

    A locked username is refused even with the right password, without checking it. A failure is recorded,
    and the failure that reaches the limit within the window also records the lockout. The caller commits.
    """
    locked = lockout_for(session, username, now)
    if locked is not None:
        return locked
    user = authenticate(session, username, password)
    if user is not None:
        return user
    details: dict[str, object] = {"channel": channel, "client": client}
    _record(session, LOGIN_FAILED, username, now, details)
    session.flush()
    lockout = lockout_for(session, username, now)
    if lockout is not None:
        _record(session, LOCKED, username, now, details | {"until": lockout.until})
    return None
