"""A message's rows on channels besides mail, written beside its mail in the same transaction.

For each message (a cause and a recipient) :func:`channel_rows` gives the outbox rows of the recipient's
SMS (their phone, when their choice or the kind's default includes SMS; in their quiet hours it is due at
their end) and of the group robots of the recipient's township or office (when the kind goes to groups;
one row per cause and robot, however many of the group's members the message names). Each row's key is
the mail's key extended by its channel (``domain.channels.channel_key``), so the outbox's unique key keeps
one row per cause, recipient and channel.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from core.clock import CHINA_TZ
from core.db import transaction_memo
from core.settings import get_settings
from domain.channels import (
    DEFAULT_QUIET,
    after_quiet_hours,
    cause_key,
    channel_key,
    personal_channels,
    robot_markdown,
    robot_summary,
    sms_text,
    wants_robot,
)
from domain.vocabulary import Channel, OutboxStatus
from models.accounts import User
from models.channels import ChannelRobot, UserChannels


@dataclass
class Directory:
    """Users' channel choices and the active robots per org unit, loaded once for a batch."""

    prefs: dict[int, UserChannels] = field(default_factory=dict)
    robots: dict[int, list[ChannelRobot]] = field(default_factory=dict)


_KNOWN = "outbox_directory"  # in the transaction's memo: the Directory read so far, and whose entries it holds


@dataclass
class _Known:
    directory: Directory = field(default_factory=Directory)
    people: set[int] = field(default_factory=set)
    units: set[int] = field(default_factory=set)


# Built once: every mail asks (a statement's cache key is then computed once, not per mail).
_PREFS = select(UserChannels).where(col(UserChannels.user_id).in_(bindparam("people", expanding=True)))
_ROBOTS = select(ChannelRobot).where(col(ChannelRobot.org_unit_id).in_(bindparam("units", expanding=True)),
                                    col(ChannelRobot.active).is_(True)).order_by(col(ChannelRobot.id))


def load_directory(session: Session, users: Iterable[User], *, robots: bool = True) -> Directory:
    """The channel choices of ``users`` and the active robots of their org units (``robots=False``: not needed,
    not read). What the transaction has read already is not read again: the choices and robots change only
    through :mod:`tasks.channels`, which sends no mail in the transaction that changes them (and forgets
    this memory when it writes, :func:`forget_directory`)."""
    users = list(users)
    known: _Known = transaction_memo(session).setdefault(_KNOWN, _Known())
    people = {u.id for u in users if u.id is not None} - known.people
    units = {u.org_unit_id for u in users if u.org_unit_id is not None} - known.units if robots else set()
    if people:
        for pref in session.exec(_PREFS, params={"people": list(people)}):
            known.directory.prefs[pref.user_id] = pref
        known.people |= people
    if units:
        found = session.exec(_ROBOTS, params={"units": list(units)})
        for robot in found:
            known.directory.robots.setdefault(robot.org_unit_id, []).append(robot)
        known.units |= units
    return known.directory


def forget_directory(session: Session) -> None:
    """Drop what :func:`load_directory` remembers for the transaction (after a write to choices or robots)."""
    transaction_memo(session).pop(_KNOWN, None)


def _row(key: str, channel: str, to_addr: str, user_id: int | None, subject: str, text: str,
         now: dt.datetime, due: dt.datetime | None = None) -> dict[str, Any]:
    return {"key": key, "channel": channel, "to_addr": to_addr, "to_user_id": user_id, "subject": subject[:300],
            "body_text": text, "body_html": "", "status": OutboxStatus.PENDING, "attempts": 0, "created_at": now,
            "next_attempt_at": due}


def channel_rows(directory: Directory, user: User, key: str, kind: str, subject: str, text: str, link: str,
                 now: dt.datetime) -> list[dict[str, Any]]:
    """The rows (without ``message_id``) of one message on the recipient's SMS and their group's robots."""
    rows: list[dict[str, Any]] = []
    pref = directory.prefs.get(user.id or 0)
    chosen = pref.channels if pref is not None else None
    if pref is not None and pref.phone and Channel.SMS in personal_channels(kind, chosen):
        quiet = (pref.quiet_start, pref.quiet_end) if pref else DEFAULT_QUIET
        due = after_quiet_hours(now.astimezone(CHINA_TZ), *quiet)
        sms = sms_text(get_settings().sms_sign, subject, link)
        rows.append(_row(channel_key(key, Channel.SMS), Channel.SMS, pref.phone, user.id, subject, sms, now,
                         due.astimezone(dt.UTC) if due else None))
    if wants_robot(kind) and user.org_unit_id is not None:
        markdown = robot_markdown(subject, robot_summary(text), link)
        for robot in directory.robots.get(user.org_unit_id, []):
            rows.append(_row(channel_key(cause_key(key, user.id), robot.channel, robot.id), robot.channel,
                             f"robot:{robot.id}", None, subject, markdown, now))
    return rows
