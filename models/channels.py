"""Channels besides mail: the group robots of townships and offices, and each user's phone and preferences.

Robot webhooks and secrets are stored encrypted (``notifications.channels.seal``) and never shown back in full.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic import Field as In
from sqlalchemy import JSON, Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime


class ChannelRobot(SQLModel, table=True):
    """A WeCom, DingTalk or Feishu group robot of one township or office (org unit)."""

    __tablename__ = "channel_robots"

    id: int | None = Field(default=None, primary_key=True)
    org_unit_id: int = Field(sa_column=Column(Integer, ForeignKey("org_units.id"), nullable=False, index=True))
    channel: str = Field(max_length=16, description="wecom | dingtalk | feishu")
    name: str = Field(max_length=100, description="the group's name, as administrators know it")
    webhook_sealed: str = Field(max_length=2000, description="the webhook URL, encrypted")
    webhook_hint: str = Field(max_length=300, description="the webhook URL with its key masked")
    secret_sealed: str | None = Field(default=None, max_length=1000, description="a signed robot's secret, encrypted")
    active: bool = Field(default=True)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(sa_type=UTCDateTime)
    version: int = Field(default=1)


class UserChannels(SQLModel, table=True):
    """One user's phone and choices: which of their own channels (mail, SMS) and their quiet hours."""

    __tablename__ = "user_channels"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
                                          unique=True))
    phone: str | None = Field(default=None, max_length=20)
    channels: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True),
                                       description="null: each message kind's default")
    quiet_start: dt.time = Field(default=dt.time(22, 0))
    quiet_end: dt.time = Field(default=dt.time(7, 0))
    updated_at: dt.datetime = Field(sa_type=UTCDateTime)
    version: int = Field(default=1)


class RobotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org_unit_id: int
    channel: str
    name: str
    webhook: str
    secret: str | None = None
    active: bool = True
    version: int | None = None


class ChannelPrefsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str | None = None
    channels: list[str] | None = None
    quiet_start: dt.time = dt.time(22, 0)
    quiet_end: dt.time = dt.time(7, 0)
    version: int | None = In(default=None, strict=True)


def robot_public(robot: ChannelRobot) -> dict[str, Any]:
    """A robot as shown back: the webhook masked, the secret only as whether there is one."""
    return {"id": robot.id, "org_unit_id": robot.org_unit_id, "channel": robot.channel, "name": robot.name,
            "webhook": robot.webhook_hint, "signed": robot.secret_sealed is not None, "active": robot.active,
            "version": robot.version}
