"""Channels: administrators configure the group robots of townships and offices; every user sets their phone,
their channels and their quiet hours. Webhooks and secrets are sealed before they are stored, and neither
the answers nor the audit trail ever hold them in full."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session, col, select

from domain.channels import PERSONAL, ROBOTS, mask, mask_url, valid_phone
from domain.errors import NotFound, ValidationFailed
from domain.vocabulary import Channel
from models import User
from models.channels import ChannelPrefsIn, ChannelRobot, RobotIn, UserChannels, robot_public
from models.org import OrgUnit
from notifications.channels import seal
from notifications.fanout import forget_directory
from tasks.accounts import Principal, require_admin
from tasks.audit import append_event
from tasks.locking import Audit, require_version, save_versioned

ROBOT_UNITS = ("county", "township", "unit")  # the county's office, a township, a dispatching unit


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, errors=[{"field": field, "message": message}])


def _check_robot(session: Session, data: RobotIn, creating: bool) -> OrgUnit:
    if data.channel not in ROBOTS:
        labels = "、".join(Channel.label_of(c) for c in sorted(ROBOTS))
        raise _invalid("channel", f"机器人类型应为{labels}之一（wecom、dingtalk、feishu）")
    unit = session.get(OrgUnit, data.org_unit_id)
    if unit is None or unit.kind not in ROBOT_UNITS:
        raise _invalid("org_unit_id", "请选择一个乡镇、县委组织部或派出单位作为机器人所属单位")
    if not data.name.strip() or len(data.name) > 100:
        raise _invalid("name", "请填写群名称（1–100 个字）")
    if (creating or data.webhook) and not data.webhook.startswith(("https://", "http://")):
        raise _invalid("webhook", "请填写机器人的 Webhook 地址（以 https:// 开头，从群设置的机器人详情中复制）")
    if len(data.webhook) > 1000 or len(data.secret or "") > 200:
        raise _invalid("webhook", "Webhook 地址或加签密钥过长，请检查是否复制完整")
    return unit


def _snapshot(robot: ChannelRobot) -> dict[str, Any]:
    return robot_public(robot)


def save_robot(session: Session, principal: Principal, data: RobotIn, now: dt.datetime,
               robot_id: int | None = None) -> ChannelRobot:
    """Create (``robot_id`` None) or change a group robot; on a change an empty webhook or secret keeps the
    stored one, and ``secret`` "-" removes it. No commit."""
    principal.require_role("admin")
    robot = session.get(ChannelRobot, robot_id) if robot_id is not None else None
    if robot_id is not None and robot is None:
        raise NotFound(f"机器人 {robot_id} 不存在")
    unit = _check_robot(session, data, robot is None)
    values: dict[str, Any] = {"org_unit_id": unit.id, "channel": data.channel, "name": data.name.strip(),
                              "active": data.active, "updated_at": now}
    if data.webhook:
        values |= {"webhook_sealed": seal(data.webhook), "webhook_hint": mask_url(data.webhook)[:300]}
    if data.secret == "-":
        values["secret_sealed"] = None
    elif data.secret:
        values["secret_sealed"] = seal(data.secret)
    township = unit.id if unit.kind == "township" else None
    forget_directory(session)
    if robot is None:
        robot = ChannelRobot(**values, created_at=now)
        session.add(robot)
        session.flush()
        append_event(session, actor_id=principal.user.id, actor=principal.user.username, action="channel_robot.create",
                     subject_type="channel_robot", subject_id=robot.id or 0, township_id=township, before=None,
                     after=_snapshot(robot), now=now)
        return robot
    expected = require_version(robot, data.version, what="机器人")
    save_versioned(session, robot, expected, values, what="机器人",
                   audit=Audit(principal, "channel_robot.update", "channel_robot", township, _snapshot(robot),
                               lambda: _snapshot(robot), now))
    return robot


def list_robots(session: Session, principal: Principal) -> list[dict[str, Any]]:
    principal.require_role("admin")
    robots = session.exec(select(ChannelRobot).order_by(col(ChannelRobot.org_unit_id), col(ChannelRobot.id))).all()
    names = {u.id: u.name for u in session.exec(select(OrgUnit).where(col(OrgUnit.id).in_({r.org_unit_id for r in robots})))}
    return [robot_public(r) | {"org_unit": names.get(r.org_unit_id, ""), "channel_label": Channel.label_of(r.channel)}
            for r in robots]


def prefs_public(user_id: int, pref: UserChannels | None) -> dict[str, Any]:
    """A user's channels as shown to themselves (their own phone in full)."""
    return {"user_id": user_id, "phone": pref.phone if pref else None,
            "channels": pref.channels if pref else None,
            "quiet_start": (pref.quiet_start if pref else dt.time(22, 0)).strftime("%H:%M"),
            "quiet_end": (pref.quiet_end if pref else dt.time(7, 0)).strftime("%H:%M"),
            "version": pref.version if pref else None}


def my_channels(session: Session, principal: Principal) -> dict[str, Any]:
    user_id = principal.user.id or 0
    pref = session.exec(select(UserChannels).where(UserChannels.user_id == user_id)).first()
    return prefs_public(user_id, pref)


def _user_named(session: Session, principal: Principal, username: str) -> User:
    """The account an administrator manages the channels of (404 for a name that is not an account)."""
    require_admin(principal)
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or user.id is None:
        raise NotFound(f"没有用户名为 {username} 的账号")
    return user


def user_channels(session: Session, principal: Principal, username: str) -> dict[str, Any]:
    """An administrator reads another user's phone, channels and quiet hours (to fix a wrong phone, say)."""
    user = _user_named(session, principal, username)
    pref = session.exec(select(UserChannels).where(UserChannels.user_id == user.id)).first()
    return prefs_public(user.id or 0, pref) | {"username": user.username, "display_name": user.display_name}


def _check_prefs(data: ChannelPrefsIn) -> dict[str, Any]:
    phone = (data.phone or "").strip() or None
    if phone is not None and not valid_phone(phone):
        raise _invalid("phone", "手机号码应为 11 位大陆手机号（如 13800000000）")
    channels = None if data.channels is None else sorted(set(data.channels))
    if channels is not None and not set(channels) <= PERSONAL:
        raise _invalid("channels", "个人接收方式只能是邮件（email）和短信（sms）；群机器人由管理员按乡镇配置")
    if channels is not None and Channel.SMS in channels and phone is None:
        raise _invalid("phone", "选择短信接收时请填写手机号码")
    return {"phone": phone, "channels": channels, "quiet_start": data.quiet_start, "quiet_end": data.quiet_end}


def _save_channels(session: Session, principal: Principal, user_id: int, data: ChannelPrefsIn,
                   now: dt.datetime) -> UserChannels:
    values = _check_prefs(data) | {"updated_at": now}
    pref = session.exec(select(UserChannels).where(UserChannels.user_id == user_id)).first()
    shown = {**values, "phone": mask(values["phone"]) if values["phone"] else None}
    forget_directory(session)
    if pref is None:
        pref = UserChannels(user_id=user_id, **values)
        session.add(pref)
        session.flush()
        append_event(session, actor_id=principal.user.id, actor=principal.user.username, action="user_channels.save",
                     subject_type="user", subject_id=user_id, township_id=None, before=None, after=shown, now=now)
    else:
        expected = require_version(pref, data.version, what="接收设置")
        save_versioned(session, pref, expected, values, what="接收设置",
                       audit=Audit(principal, "user_channels.save", "user", None, None, shown, now))
    return pref


def save_my_channels(session: Session, principal: Principal, data: ChannelPrefsIn, now: dt.datetime) -> dict[str, Any]:
    """The signed-in user sets their phone, channels and quiet hours (a change needs the version). No commit."""
    user_id = principal.user.id or 0
    return prefs_public(user_id, _save_channels(session, principal, user_id, data, now))


def save_user_channels(session: Session, principal: Principal, username: str, data: ChannelPrefsIn,
                       now: dt.datetime) -> dict[str, Any]:
    """An administrator sets another user's phone, channels and quiet hours, audited under the administrator's
    name (a change needs the version, as the user's own). No commit."""
    user = _user_named(session, principal, username)
    pref = _save_channels(session, principal, user.id or 0, data, now)
    return prefs_public(user.id or 0, pref) | {"username": user.username, "display_name": user.display_name}
