"""The mail outbox writer: a mail is written in the same transaction as the change that causes it.

Delivery happens later (a worker reads ``status == "pending"`` rows). ``key`` names the cause — what
happened, to which thing, in which round, for which recipient — so writing the same mail twice (a retry,
a replayed request) leaves one row: the writer looks first, and the unique index on ``outbox.key`` is
the final guard against a concurrent writer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlmodel import Session, select

from core.settings import get_settings
from models.accounts import User
from models.review import OutboxMessage
from notifications.render import render_mail

MESSAGE_ID_DOMAIN = "duban.local"
_KEY_MAX = 255


def base_url() -> str:
    """The absolute root of the web UI for links in mail, without a trailing slash."""
    return get_settings().effective_base_url.rstrip("/")


def absolute_url(path: str) -> str:
    """``base_url()`` joined with an absolute path such as ``/submissions/12``."""
    return f"{base_url()}/{path.lstrip('/')}"


def message_id_for(key: str) -> str:
    """A stable RFC 5322 Message-ID derived from the outbox key (the same cause, the same id)."""
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@{MESSAGE_ID_DOMAIN}>"


def _existing(session: Session, key: str) -> OutboxMessage | None:
    for obj in session.new:  # added in this session but not flushed yet (autoflush may be off)
        if isinstance(obj, OutboxMessage) and obj.key == key:
            return obj
    return session.exec(select(OutboxMessage).where(OutboxMessage.key == key)).first()


def enqueue_mail(
    session: Session,
    *,
    key: str,
    to: User,
    template: str,
    context: dict[str, Any],
    now: dt.datetime,
) -> OutboxMessage | None:
    """Add a pending mail to the session (no commit) and return it.

    Returns ``None`` and writes nothing when ``to`` is inactive or has no email address. Returns the
    existing message when one with ``key`` is already there. ``recipient_name`` defaults to
    ``to.display_name``; see :mod:`notifications.render` for the other template variables.
    """
    if not key or len(key) > _KEY_MAX:
        raise ValueError(f"outbox key must be 1–{_KEY_MAX} characters")
    if now.tzinfo is None:
        raise ValueError("enqueue_mail needs an aware datetime")
    address = (to.email or "").strip()
    if not to.active or not address:
        return None
    existing = _existing(session, key)
    if existing is not None:
        return existing
    mail = render_mail(template, {"recipient_name": to.display_name, **context})
    message = OutboxMessage(
        key=key,
        message_id=message_id_for(key),
        to_addr=address,
        to_user_id=to.id,
        subject=mail.subject[:300],
        body_text=mail.text,
        body_html=mail.html,
        status="pending",
        created_at=now,
    )
    session.add(message)
    return message
