"""Channels in tests: a channel sink (real HTTP) with robots of QX01 configured on it, users' preferences, and
the settings that point SMS at the sink."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.settings import get_settings
from models import OrgUnit, OutboxMessage, User
from models.channels import ChannelPrefsIn, RobotIn
from notifications import channels as channel_module
from notifications.channels import RobotSender, SmsSender
from notifications.sink import SMS_PATH, ChannelSink
from tasks.accounts import principal_for
from tasks.channels import save_my_channels, save_robot

DING_SECRET = "SEC0123456789abcdef0123456789abcdef"


@contextmanager
def channel_sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[ChannelSink]:
    """A running sink; SMS settings point at it; robot secrets sealed under a fresh key."""
    monkeypatch.setenv("DUBAN_CHANNELS_KEY", Fernet.generate_key().decode())
    with ChannelSink() as sink:
        monkeypatch.setenv("DUBAN_SMS_GATEWAY_URL", f"{sink.url}{SMS_PATH}")
        get_settings.cache_clear()
        channel_module._fernet.cache_clear()
        try:
            yield sink
        finally:
            channel_module._fernet.cache_clear()
            get_settings.cache_clear()


def senders(sink: ChannelSink) -> dict[str, Any]:
    robots = RobotSender(timeout=5)
    return {"wecom": robots, "dingtalk": robots, "feishu": robots, "sms": SmsSender(f"{sink.url}{SMS_PATH}", None)}


def user(session: Session, username: str) -> User:
    return session.exec(select(User).where(User.username == username)).one()


def add_robots(engine: Engine, sink: ChannelSink, code: str = "QX01", now: dt.datetime | None = None) -> dict[str, int]:
    """A WeCom robot and a signed DingTalk robot of township ``code`` on the sink; returns their ids by channel."""
    now = now or dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
    sink.secrets["ding-token"] = DING_SECRET
    ids: dict[str, int] = {}
    with Session(engine) as session:
        admin = principal_for(session, user(session, "admin"))
        unit = session.exec(select(OrgUnit).where(OrgUnit.code == code)).one()
        for channel, key, secret in (("wecom", "wecom-key", None), ("dingtalk", "ding-token", DING_SECRET)):
            robot = save_robot(session, admin, RobotIn(org_unit_id=unit.id or 0, channel=channel, name=f"{unit.name}工作群",
                                                       webhook=sink.webhook(channel, key), secret=secret), now)
            ids[channel] = robot.id or 0
        session.commit()
    return ids


def set_prefs(engine: Engine, username: str, *, phone: str | None, channels: list[str] | None,
              quiet: tuple[dt.time, dt.time] = (dt.time(22, 0), dt.time(7, 0))) -> None:
    with Session(engine) as session:
        principal = principal_for(session, user(session, username))
        save_my_channels(session, principal, ChannelPrefsIn(phone=phone, channels=channels, quiet_start=quiet[0],
                                                            quiet_end=quiet[1]), dt.datetime(2027, 3, 1, tzinfo=dt.UTC))
        session.commit()


def rows(engine: Engine, *, channel: str | None = None) -> list[OutboxMessage]:
    with Session(engine) as session:
        query = select(OutboxMessage).order_by(col(OutboxMessage.id))
        if channel is not None:
            query = query.where(OutboxMessage.channel == channel)
        return list(session.exec(query))
