"""Messages on SMS and group robots through the outbox, against a real HTTP sink that answers as WeCom,
DingTalk (checking signatures) and an SMS gateway do: rows per recipient and channel written with the mail,
delivered according to preferences, rate limits retried with back-off, permanent refusals dead-lettered,
and a crash between send and commit re-sending at most the message in flight."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.clock import CHINA_TZ
from models import OutboxMessage
from notifications.delivery import deliver_pending
from notifications.mailer import MemoryMailer
from notifications.outbox import MailRequest, enqueue_mail, enqueue_mails
from tests.support.channels import DING_SECRET, add_robots, channel_sink, rows, senders, set_prefs, user
from tests.support.mail import CONTEXTS

NOW = dt.datetime(2027, 3, 20, 9, 30, tzinfo=CHINA_TZ)
PHONE = "13800000001"


def _send_three_kinds(engine: Engine, now: dt.datetime = NOW) -> None:
    """A reminder (the tick's batch writer) to QX01's liaison and secretary, an escalation and a digest to the liaison."""
    with Session(engine) as session:
        liaison, secretary = user(session, "qx01-liaison"), user(session, "qx01-secretary")
        context = CONTEXTS["reminder"]
        enqueue_mails(session, [MailRequest(f"remind:7:3:{u.id}", u, "reminder", context) for u in (liaison, secretary)],
                      now=now)
        enqueue_mail(session, key=f"escalation:step-9:{liaison.id}", to=liaison, template="escalation",
                     context=CONTEXTS["escalation"], now=now)
        enqueue_mail(session, key=f"digest:2027-03-20:{liaison.id}", to=liaison, template="daily_digest",
                     context=CONTEXTS["daily_digest"], now=now)
        session.commit()


async def _deliver(engine: Engine, sink: Any, now: dt.datetime, mailer: MemoryMailer | None = None) -> Any:
    return await deliver_pending(engine, mailer or MemoryMailer(), now, holder="test", channels=senders(sink))


async def test_a_reminder_an_escalation_and_a_digest_reach_each_channel_by_preference(
        demo_county: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    with channel_sink(monkeypatch) as sink:
        robots = add_robots(demo_county, sink)
        set_prefs(demo_county, "qx01-liaison", phone=PHONE, channels=None)  # the kinds' defaults
        set_prefs(demo_county, "qx01-secretary", phone="13900000002", channels=["sms"])  # SMS only, every kind
        _send_three_kinds(demo_county)
        mailer = MemoryMailer()
        stats = await _deliver(demo_county, sink, NOW, mailer)

        assert (stats.sent, stats.retried, stats.dead) == (len(rows(demo_county)), 0, 0)
        subjects = sorted(str(m["Subject"]) for m in mailer.sent)
        assert len(subjects) == 3 and not any("13900000002" in str(m["To"]) for m in mailer.sent)  # liaison's 3 mails
        # SMS: the liaison's escalation (kind default), the secretary's reminder (her choice); not the digest
        assert sorted(r.target for r in sink.of("sms")) == ["13800000001", "13900000002"]
        assert all(len(r.text) <= 70 and r.text.startswith("【清溪督办】") for r in sink.of("sms"))
        # one robot message per cause for the group (the reminder names two of its members), signed for DingTalk
        assert len(sink.of("wecom")) == 2 and len(sink.of("dingtalk")) == 2
        assert {r.target for r in sink.of("dingtalk")} == {"ding-token"}  # the sink checked their signatures
        wecom = sink.of("wecom")[0].text
        assert "**" in wecom and "](http" in wecom and "您好" not in wecom
        robot_rows = rows(demo_county, channel="dingtalk")
        assert {r.to_addr for r in robot_rows} == {f"robot:{robots['dingtalk']}"}
        assert all(r.to_user_id is None and r.status == "sent" for r in robot_rows)


async def test_writing_the_same_message_again_leaves_one_row_per_channel(demo_county: Engine,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    with channel_sink(monkeypatch) as sink:
        add_robots(demo_county, sink)
        set_prefs(demo_county, "qx01-liaison", phone=PHONE, channels=None)
        _send_three_kinds(demo_county)
        before = [(r.key, r.channel) for r in rows(demo_county)]
        _send_three_kinds(demo_county)
        assert [(r.key, r.channel) for r in rows(demo_county)] == before
        assert {c for _, c in before} == {"email", "sms", "wecom", "dingtalk"}


async def test_no_sms_in_quiet_hours_robots_at_once(demo_county: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    night = dt.datetime(2027, 3, 20, 23, 10, tzinfo=CHINA_TZ)
    with channel_sink(monkeypatch) as sink:
        add_robots(demo_county, sink)
        set_prefs(demo_county, "qx01-liaison", phone=PHONE, channels=None)
        _send_three_kinds(demo_county, night)
        (sms,) = rows(demo_county, channel="sms")
        assert sms.next_attempt_at == dt.datetime(2027, 3, 21, 7, 0, tzinfo=CHINA_TZ)
        await _deliver(demo_county, sink, night)
        assert sink.of("sms") == [] and len(sink.of("wecom")) == 2
        await _deliver(demo_county, sink, dt.datetime(2027, 3, 21, 7, 0, tzinfo=CHINA_TZ))
        assert len(sink.of("sms")) == 1


@pytest.mark.parametrize(("channel", "answer"), [
    ("wecom", (200, {"errcode": 45009, "errmsg": "api freq out of limit"})),
    ("dingtalk", (200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"})),
    ("sms", (429, {"code": "isv.BUSINESS_LIMIT_CONTROL", "message": "rate limited"})),
])
async def test_a_rate_limit_is_retried_after_a_back_off(demo_county: Engine, monkeypatch: pytest.MonkeyPatch,
                                                       channel: str, answer: tuple[int, dict[str, Any]]) -> None:
    with channel_sink(monkeypatch) as sink:
        add_robots(demo_county, sink)
        set_prefs(demo_county, "qx01-liaison", phone=PHONE, channels=None)
        _send_three_kinds(demo_county)
        sink.script(channel, answer)
        first = await _deliver(demo_county, sink, NOW)
        assert first.retried == 1
        (waiting,) = [r for r in rows(demo_county, channel=channel) if r.status == "pending"]
        assert waiting.attempts == 1 and waiting.next_attempt_at == NOW + dt.timedelta(seconds=30)
        assert "rate limited" in (waiting.last_error or "") or "429" in (waiting.last_error or "")
        assert (await _deliver(demo_county, sink, NOW + dt.timedelta(seconds=10))).sent == 0  # not yet due
        again = await _deliver(demo_county, sink, NOW + dt.timedelta(seconds=31))
        assert (again.sent, again.retried) == (1, 0)
        assert {r.status for r in rows(demo_county)} == {"sent"}


async def test_a_bad_signature_and_an_invalid_phone_are_dead_letters_without_secrets(
        demo_county: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    with channel_sink(monkeypatch) as sink:
        add_robots(demo_county, sink)
        sink.secrets["ding-token"] = "SEC-another-secret"  # the robot's secret was reset in DingTalk
        set_prefs(demo_county, "qx01-liaison", phone=PHONE, channels=None)
        _send_three_kinds(demo_county)
        sink.script("sms", (400, {"code": "isv.MOBILE_NUMBER_ILLEGAL", "message": "invalid phone number"}))
        stats = await _deliver(demo_county, sink, NOW)
        dead = [r for r in rows(demo_county) if r.status == "dead"]
        assert stats.dead == len(dead) == 3  # two DingTalk messages and the SMS
        assert {r.channel for r in dead} == {"dingtalk", "sms"}
        errors = " ".join(r.last_error or "" for r in dead)
        assert "310000" in errors and "MOBILE_NUMBER_ILLEGAL" in errors
        assert "ding-token" not in errors and DING_SECRET not in errors


class _DiesAfterSending:
    """Delivers through the real sender, then the process dies before the outcome is committed."""

    def __init__(self, inner: Any, after: int) -> None:
        self.inner, self.after, self.count = inner, after, 0

    async def deliver(self, message: OutboxMessage, target: Any) -> None:
        await self.inner.deliver(message, target)
        self.count += 1
        if self.count == self.after:
            raise SystemExit("killed between send and commit")


async def test_a_crash_between_send_and_commit_resends_only_the_message_in_flight(
        demo_county: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    with channel_sink(monkeypatch) as sink:
        add_robots(demo_county, sink)
        set_prefs(demo_county, "qx01-liaison", phone=PHONE, channels=None)
        _send_three_kinds(demo_county)
        dying = {name: _DiesAfterSending(s, 2) for name, s in senders(sink).items()}
        shared = _DiesAfterSending(senders(sink)["wecom"], 2)
        dying |= {"wecom": shared, "dingtalk": shared}
        with pytest.raises(SystemExit):
            await deliver_pending(demo_county, MemoryMailer(), NOW, holder="dies", channels=dying, lease_seconds=60)
        robot_rows = [r for r in rows(demo_county) if r.channel in ("wecom", "dingtalk")]
        delivered = [r for r in sink.received if r.channel in ("wecom", "dingtalk")]
        assert len(delivered) == 2 == [r.status for r in robot_rows].count("sent") + 1  # one sent, not recorded
        later = NOW + dt.timedelta(seconds=61)
        await _deliver(demo_county, sink, later)
        assert {r.status for r in rows(demo_county)} == {"sent"}
        robot_texts = [r.text for r in sink.received if r.channel in ("wecom", "dingtalk")]
        assert len(robot_texts) == len(robot_rows) + 1  # exactly one message twice


async def test_a_signed_feishu_robot_is_delivered_and_a_wrong_secret_is_a_dead_letter(
        demo_county: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from models.channels import RobotIn
    from tasks.accounts import principal_for
    from tasks.channels import save_robot

    with channel_sink(monkeypatch) as sink:
        sink.secrets["good-hook"] = "feishu-secret"
        sink.secrets["reset-hook"] = "another-secret"
        with Session(demo_county) as session:
            admin = principal_for(session, user(session, "admin"))
            township = user(session, "qx01-liaison").org_unit_id or 0
            for key in ("good-hook", "reset-hook"):
                save_robot(session, admin, RobotIn(org_unit_id=township, channel="feishu", name=key,
                                                   webhook=sink.webhook("feishu", key), secret="feishu-secret"), NOW)
            session.commit()
        _send_three_kinds(demo_county)
        await _deliver(demo_county, sink, NOW)
        assert {r.target for r in sink.of("feishu")} == {"good-hook"} and len(sink.of("feishu")) == 2
        dead = [r for r in rows(demo_county, channel="feishu") if r.status == "dead"]
        assert len(dead) == 2 and all("19021" in (r.last_error or "") for r in dead)


async def test_a_user_without_mail_gets_the_sms_of_a_batch_and_of_a_single_message(
        demo_county: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    with channel_sink(monkeypatch) as sink:
        with Session(demo_county) as session:
            liaison = user(session, "qx01-liaison")
            liaison.email = None
            session.add(liaison)
            session.commit()
        set_prefs(demo_county, "qx01-liaison", phone=PHONE, channels=["sms"])
        _send_three_kinds(demo_county)
        assert {r.channel for r in rows(demo_county) if r.to_user_id is not None and r.to_addr == PHONE} == {"sms"}
        await _deliver(demo_county, sink, NOW)
        assert len(sink.of("sms")) == 3  # the reminder (batch), the escalation and the digest: her choice


async def test_an_sms_retried_late_in_the_evening_waits_for_the_morning(demo_county: Engine,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    evening = dt.datetime(2027, 3, 20, 21, 59, 50, tzinfo=CHINA_TZ)
    with channel_sink(monkeypatch) as sink:
        set_prefs(demo_county, "qx01-liaison", phone=PHONE, channels=["sms"])
        _send_three_kinds(demo_county, evening)
        sink.script("sms", (503, {"message": "busy"}))
        await _deliver(demo_county, sink, evening)
        (waiting,) = [r for r in rows(demo_county, channel="sms") if r.status == "pending"]
        assert waiting.next_attempt_at == dt.datetime(2027, 3, 21, 7, 0, tzinfo=CHINA_TZ)  # not 22:00:20
