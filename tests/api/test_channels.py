"""The channels API and page: administrators add group robots (webhooks and secrets never shown back or
audited in full), users set their phone, channels and quiet hours with optimistic locking; bad input is a
422 problem in Chinese."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.settings import get_settings
from models import AuditEvent, OrgUnit
from models.channels import ChannelRobot
from notifications import channels as channel_module
from tests.support.web import web_sign_in

WEBHOOK = "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef0123456789abcdef"
SECRET = "SEC9876543210fedcba9876543210fedcba"


@pytest.fixture(autouse=True)
def channels_key(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("DUBAN_CHANNELS_KEY", Fernet.generate_key().decode())
    get_settings.cache_clear()
    channel_module._fernet.cache_clear()
    yield
    channel_module._fernet.cache_clear()


def _township(engine: Engine, code: str = "QX01") -> int:
    with Session(engine) as session:
        return session.exec(select(OrgUnit.id).where(OrgUnit.code == code)).one() or 0


async def test_an_administrator_adds_a_signed_robot_shown_and_audited_masked(client: httpx.AsyncClient,
                                                                           demo_county: Engine) -> None:
    body = {"org_unit_id": _township(demo_county), "channel": "dingtalk", "name": "青石镇工作群", "webhook": WEBHOOK,
            "secret": SECRET}
    created = await client.post("/api/v1/channels/robots", json=body)
    assert created.status_code == 200, created.text
    robot = created.json()
    assert robot["signed"] is True and robot["webhook"].startswith("https://oapi.dingtalk.com/robot/send?access_token=••••")
    listed = (await client.get("/api/v1/channels/robots")).text
    with Session(demo_county) as session:
        stored = session.exec(select(ChannelRobot)).one()
        audit = " ".join(str(e.after) for e in session.exec(select(AuditEvent).where(AuditEvent.action.startswith("channel_robot"))))  # type: ignore[attr-defined]
    for shown in (created.text, listed, audit, stored.webhook_sealed, stored.secret_sealed or ""):
        assert "0123456789abcdef0123456789abcdef" not in shown and SECRET not in shown
    assert channel_module.unseal(stored.webhook_sealed) == WEBHOOK and channel_module.unseal(stored.secret_sealed or "") == SECRET

    changed = await client.post("/api/v1/channels/robots", json=body | {"id": robot["id"], "webhook": "", "secret": None,
                                                                         "active": False, "version": robot["version"]})
    assert changed.status_code == 200 and changed.json()["active"] is False and changed.json()["signed"] is True
    stale = await client.post("/api/v1/channels/robots", json=body | {"id": robot["id"], "version": robot["version"]})
    assert stale.status_code == 409


@pytest.mark.parametrize(("change", "field"), [
    ({"channel": "telegram"}, "channel"), ({"webhook": "oapi.dingtalk.com/robot"}, "webhook"), ({"name": " "}, "name"),
])
async def test_a_bad_robot_is_refused_in_chinese(client: httpx.AsyncClient, demo_county: Engine,
                                                 change: dict[str, Any], field: str) -> None:
    body = {"org_unit_id": _township(demo_county), "channel": "wecom", "name": "群", "webhook": WEBHOOK} | change
    response = await client.post("/api/v1/channels/robots", json=body)
    assert response.status_code == 422 and response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == field
    with Session(demo_county) as session:
        assert session.exec(select(ChannelRobot)).first() is None


async def test_only_administrators_configure_robots(users: Any, anon: httpx.AsyncClient, demo_county: Engine) -> None:
    headers = await users("qx01-secretary")
    body = {"org_unit_id": _township(demo_county), "channel": "wecom", "name": "群", "webhook": WEBHOOK}
    assert (await anon.post("/api/v1/channels/robots", json=body, headers=headers)).status_code == 403
    assert (await anon.get("/api/v1/channels/robots", headers=headers)).status_code == 403


async def test_a_user_sets_phone_channels_and_quiet_hours_with_a_version(users: Any, anon: httpx.AsyncClient) -> None:
    headers = await users("qx01-liaison")
    assert (await anon.get("/api/v1/channels/me", headers=headers)).json()["channels"] is None
    bad = await anon.put("/api/v1/channels/me", json={"phone": "12345", "channels": ["sms"]}, headers=headers)
    assert bad.status_code == 422 and "手机号码" in bad.json()["detail"]
    robot = await anon.put("/api/v1/channels/me", json={"channels": ["wecom"]}, headers=headers)
    assert robot.status_code == 422 and "群机器人" in robot.json()["detail"]
    saved = await anon.put("/api/v1/channels/me", json={"phone": "13800000001", "channels": ["sms", "email"],
                                                         "quiet_start": "21:30", "quiet_end": "07:30"}, headers=headers)
    assert saved.status_code == 200, saved.text
    assert saved.json() | {} == {"user_id": saved.json()["user_id"], "phone": "13800000001", "channels": ["email", "sms"],
                                 "quiet_start": "21:30", "quiet_end": "07:30", "version": 1}
    assert (await anon.put("/api/v1/channels/me", json={"channels": ["email"]}, headers=headers)).status_code == 422
    again = await anon.put("/api/v1/channels/me", json={"channels": ["email"], "version": 1}, headers=headers)
    assert again.status_code == 200 and again.json()["version"] == 2 and again.json()["phone"] is None


async def test_an_administrator_fixes_a_users_phone_audited_under_the_administrators_name(
        users: Any, anon: httpx.AsyncClient, demo_county: Engine) -> None:
    admin, liaison = await users("admin"), await users("qx01-liaison")
    shown = await anon.get("/api/v1/channels/users/qx01-liaison", headers=admin)
    assert shown.status_code == 200 and shown.json()["phone"] is None and shown.json()["username"] == "qx01-liaison"
    saved = await anon.put("/api/v1/channels/users/qx01-liaison", json={"phone": "13800000002", "channels": ["email", "sms"]},
                           headers=admin)
    assert saved.status_code == 200 and saved.json()["version"] == 1, saved.text
    mine = (await anon.get("/api/v1/channels/me", headers=liaison)).json()
    assert mine["phone"] == "13800000002" and mine["channels"] == ["email", "sms"]
    # the user's own change and the administrator's share one version: a stale one is refused
    stale = await anon.put("/api/v1/channels/users/qx01-liaison", json={"phone": "13800000003"}, headers=admin)
    assert stale.status_code == 422 and "version" in stale.text
    bad = await anon.put("/api/v1/channels/users/qx01-liaison", json={"phone": "555", "version": 1}, headers=admin)
    assert bad.status_code == 422 and "手机号码" in bad.json()["detail"]
    assert (await anon.get("/api/v1/channels/users/nobody-here", headers=admin)).status_code == 404
    for other in ("qx01-liaison", "qx01-secretary", "county-reviewer"):  # only administrators
        headers = await users(other)
        assert (await anon.get("/api/v1/channels/users/qx01-liaison", headers=headers)).status_code == 403
        assert (await anon.put("/api/v1/channels/users/qx01-liaison", json={"phone": "13800000009", "version": 1},
                               headers=headers)).status_code == 403
    with Session(demo_county) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "user_channels.save")).all()
    assert [e.actor for e in events] == ["admin"] and "13800000002" not in str(events[0].after)


async def test_the_channels_page_saves_preferences_and_shows_robots_masked(anon: httpx.AsyncClient,
                                                                          demo_county: Engine) -> None:
    admin = await web_sign_in(anon, "admin")
    added = await anon.post("/admin/channels/robots", headers=admin.headers, data={
        "csrf_token": admin.csrf, "org_unit_id": str(_township(demo_county)), "channel": "wecom", "name": "青石镇工作群",
        "webhook": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa",
        "active": "on"})
    assert added.status_code == 303
    page = (await anon.get("/channels", headers=admin.headers)).text
    assert "青石镇工作群" in page and "key=••••5aaa" in page and "693a91f6" not in page
    liaison = await web_sign_in(anon, "qx01-liaison")
    refused = await anon.post("/channels/me", headers=liaison.headers, data={
        "csrf_token": liaison.csrf, "phone": "1380000", "channels": "sms"})
    assert refused.status_code == 422 and "手机号码应为 11 位" in refused.text
    saved = await anon.post("/channels/me", headers=liaison.headers, data={
        "csrf_token": liaison.csrf, "phone": "13800000001", "use_defaults": "on", "quiet_start": "22:00", "quiet_end": "07:00"})
    assert saved.status_code == 303
    mine = (await anon.get("/channels", headers=liaison.headers)).text
    assert "13800000001" in mine and "群机器人" in mine and "693a91f6" not in mine


async def test_the_admin_mail_page_lists_what_the_local_channel_sink_received(
        anon: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from notifications.sink import ChannelSink

    monkeypatch.setenv("DUBAN_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    with ChannelSink(log=tmp_path / "channels" / "received.jsonl") as sink:
        sent = httpx.post(sink.webhook("wecom", "693a91f6-secret-key"), json={"msgtype": "markdown",
                          "markdown": {"content": "**【逾期提醒】青石镇·季度报告**"}})
        assert sent.json() == {"errcode": 0, "errmsg": "ok"}
    admin = await web_sign_in(anon, "admin")
    page = (await anon.get("/admin/mail", headers=admin.headers)).text
    assert "企业微信群机器人" in page and "【逾期提醒】青石镇·季度报告" in page and "693a91f6" not in page
