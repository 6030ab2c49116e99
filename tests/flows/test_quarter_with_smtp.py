"""A simulated quarter on a virtual clock against a real SMTP server (aiosmtpd on 127.0.0.1).

The weak-village rectification of 2025 is launched for 青石镇 (QX01) and 柳河乡 (QX02) on 25 Sep 2025,
09:00 China time: the list of weak villages (due 10 Oct) is already open, the Q4 quarterly report opens
on 5 Dec and is due on Fri 19 Dec. Every day from 1 Oct to 31 Dec the tick runs at 09:00 and 15:00
(``tasks.tick.run_tick``: its transactions as the ``tick`` flow runs them) and the outbox is then delivered over SMTP. 柳河乡's
liaison submits the Q4 report on 15 Dec. Everything is asserted from what the SMTP server received.
Missed deadlines climb the escalation ladder (催办, 督办, ... to the township and county users), so the
server also receives escalation mail; exact assertions are about the Q4 report, the duplicate and
cross-township checks are about everything.

The days between the launch and 1 Oct are not ticked: a downtime, so the list of weak villages gets only
the latest reminder whose day has come when the ticks resume (README: "only the latest reminder ... once").
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.db import session_scope
from models import Campaign, Escalation, Obligation, OrgUnit, OutboxMessage, ReminderLog, Submission, User
from notifications.delivery import DeliveryStats, deliver_pending
from tests.support.clock import at, days
from tests.support.smtp import Received, RecordingHandler, SmtpServer, smtp_server
from tests.support.tick import tick
from tests.support.world import as_user, launch

LAUNCH = at(dt.date(2025, 9, 25))
FIRST_DAY = dt.date(2025, 10, 1)
LAST_DAY = dt.date(2025, 12, 31)
SUBMIT_DAY = dt.date(2025, 12, 15)
HOURS = (9, 15)
QX01_LIAISON = "qx01-liaison@qingxi.example"
QX02_LIAISON = "qx02-liaison@qingxi.example"
TOWNSHIP_NAMES = {"qx01": "青石镇", "qx02": "柳河乡", "qx03": "白沙镇"}


@pytest.fixture
def smtp() -> Iterator[SmtpServer[RecordingHandler]]:
    with smtp_server(RecordingHandler()) as server:
        yield server


async def deliver_all(engine: Engine, smtp: SmtpServer[RecordingHandler], now: dt.datetime) -> DeliveryStats:
    """Deliver until the outbox has nothing due; the server learns the virtual time of the delivery."""
    smtp.handler.virtual_now = now
    total = DeliveryStats()
    while True:
        stats = await deliver_pending(engine, smtp.mailer(), now, holder="test")
        assert stats.retried == 0 and stats.dead == 0 and stats.skipped == 0, stats
        if stats.sent == 0:
            return total
        total.sent += stats.sent


def submit_q4_report(engine: Engine, username: str, now: dt.datetime, obligation_id: int) -> None:
    from tasks import review

    with session_scope(engine) as s:
        principal = as_user(s, username)
        draft = s.exec(select(Submission).where(Submission.obligation_id == obligation_id)).one()
        assert draft.created_by is None and draft.status == "draft"  # the draft the tick created
        data = {"basic_situation": "柳河乡2个后进村已完成班子调整", "results": "新发展党员2名，集体经济增收3万元",
                "main_problems": "个别村党员老化", "next_steps": "下季度培养入党积极分子4名"}
        draft = review.update_draft(s, principal, now, draft.id or 0, data, draft.version)
        review.submit_submission(s, principal, now, draft.id or 0, draft.version)


def obligation(engine: Engine, township: str, rule_key: str, period: str | None = None) -> Obligation:
    with Session(engine) as s:
        stmt = (
            select(Obligation)
            .join(Campaign, col(Obligation.campaign_id) == Campaign.id)
            .join(OrgUnit, col(Campaign.township_id) == OrgUnit.id)
            .where(OrgUnit.code == township, Obligation.rule_key == rule_key)
        )
        if period is not None:
            stmt = stmt.where(Obligation.period == period)
        return s.exec(stmt).one()


def outbox_by_message_id(engine: Engine) -> dict[str, OutboxMessage]:
    with Session(engine) as s:
        rows = s.exec(select(OutboxMessage)).all()
    by_id = {r.message_id: r for r in rows}
    assert len(by_id) == len(rows), "two outbox rows share a Message-ID"
    return by_id


def for_obligation(received: list[Received], outbox: dict[str, OutboxMessage], ob: Obligation, to: str) -> list[Received]:
    """What ``to`` received about obligation ``ob`` (request or reminder), in arrival order."""
    keys = {f"request:{ob.id}:", f"reminder:{ob.id}:"}
    out = []
    for r in received:
        row = outbox[r.message_id]
        if r.rcpt_tos == [to] and any(row.key.startswith(k) for k in keys):
            out.append(r)
    return out


# --- the quarter ----------------------------------------------------------------------------------------


async def test_a_quarter_of_ticks_mails_each_township_once_per_reminder(
    demo_county: Engine, smtp: SmtpServer[RecordingHandler], backend: str
) -> None:
    engine = demo_county
    launch(engine, ("QX01", "QX02"), LAUNCH)

    # The list of weak villages was open at launch: its request goes out with the first delivery.
    await deliver_all(engine, smtp, LAUNCH)
    at_launch = smtp.handler.snapshot()
    lists = {code: obligation(engine, code, "weak_village_list") for code in ("QX01", "QX02")}
    assert (lists["QX01"].opens_on <= LAUNCH.date(), lists["QX01"].due_on) == (True, dt.date(2025, 10, 10))
    assert sorted(r.rcpt_tos[0] for r in at_launch) == [QX01_LIAISON, QX02_LIAISON]
    for r in at_launch:
        assert r.subject.startswith("【报送通知】") and "名单" in r.subject
        assert r.virtual_now == LAUNCH
        assert email.utils.parsedate_to_datetime(str(r.message["Date"])) == LAUNCH

    q4 = {code: obligation(engine, code, "quarterly_report", "2025Q4") for code in ("QX01", "QX02")}
    assert (q4["QX01"].opens_on, q4["QX01"].due_on) == (dt.date(2025, 12, 5), dt.date(2025, 12, 19))

    for day in days(FIRST_DAY, LAST_DAY):
        for hour in HOURS:
            now = at(day, hour)
            tick(engine, now)
            await deliver_all(engine, smtp, now)
            if day == SUBMIT_DAY and hour == HOURS[0]:
                submitted_at = now + dt.timedelta(hours=1)
                submit_q4_report(engine, "qx02-liaison", submitted_at, q4["QX02"].id or 0)
                await deliver_all(engine, smtp, submitted_at)  # the reviewer's 待审核 mail

    received = smtp.handler.snapshot()
    outbox = outbox_by_message_id(engine)

    # Nothing received twice, nothing unknown, nothing left behind: every outbox row was sent, once.
    ids = Counter(r.message_id for r in received)
    assert [mid for mid, n in ids.items() if n > 1] == []
    assert set(ids) == set(outbox)
    assert Counter(row.status for row in outbox.values()) == Counter({"sent": len(outbox)})
    assert all(len(r.rcpt_tos) == 1 and r.rcpt_tos[0] == outbox[r.message_id].to_addr for r in received)
    # ... and no recipient got the same request or reminder subject twice on the same day (their subjects
    # name the village of a village-level report; escalation subjects do not, so those are left out).
    same_day = Counter((r.rcpt_tos[0], r.subject, r.day) for r in received
                       if outbox[r.message_id].key.startswith(("request:", "reminder:")))
    assert [k for k, n in same_day.items() if n > 1] == []

    # No township gets another township's mail; 白沙镇 (not launched) gets none. County users (the
    # administrator, the county reviewer, the county leader) may get both townships' escalations.
    with Session(engine) as s:
        users = {u.email: u for u in s.exec(select(User))}
        towns = {t.id: t for t in s.exec(select(OrgUnit).where(OrgUnit.kind == "township"))}
        obligations = {o.id: o for o in s.exec(select(Obligation))}
        campaigns = {c.id: c for c in s.exec(select(Campaign))}
        steps = {e.key: e for e in s.exec(select(Escalation))}
    county = {u.email for u in users.values() if u.role in ("admin", "observer") or u.level == "county"}
    township_of_mail: dict[str, str] = {}
    for r in received:
        key = outbox[r.message_id].key
        if key.startswith("escalation:"):  # escalation:<step key>:<user>
            step = steps[key.split(":", 1)[1].rsplit(":", 1)[0]]
            township_of_mail[r.message_id] = towns[step.township_id].name
        elif key.startswith(("request:", "reminder:")):
            ob = obligations[int(key.split(":")[1])]
            township_of_mail[r.message_id] = towns[campaigns[ob.campaign_id].township_id].name
    for r in received:
        to = r.rcpt_tos[0]
        if to in county:
            continue
        prefix = to.split("-", 1)[0]
        assert prefix in ("qx01", "qx02"), f"{to} got {r.subject}"
        own = TOWNSHIP_NAMES[prefix]
        assert towns[users[to].org_unit_id or 0].name == own
        assert own in r.subject, (to, r.subject)
        assert all(name not in r.subject for p, name in TOWNSHIP_NAMES.items() if p != prefix), (to, r.subject)
        assert township_of_mail.get(r.message_id, own) == own, (to, r.subject)

    # QX01 never submits: the request on 5 Dec, then 7, 3, 1 working days before and on the due day.
    qx01 = for_obligation(received, outbox, q4["QX01"], QX01_LIAISON)
    assert [(r.day, r.virtual_now.hour if r.virtual_now else None) for r in qx01] == [
        (dt.date(2025, 12, 5), 9),
        (dt.date(2025, 12, 10), 9),
        (dt.date(2025, 12, 16), 9),
        (dt.date(2025, 12, 18), 9),
        (dt.date(2025, 12, 19), 9),
    ]
    assert all("季度报告" in r.subject and "青石镇" in r.subject for r in qx01)
    assert qx01[0].subject.startswith("【报送通知】")
    assert [r.subject[: r.subject.index("】") + 1] for r in qx01[1:]] == ["【催报提醒】"] * 3 + ["【今日截止】"]
    assert "还剩9天" in qx01[1].subject and "今日截止" in qx01[-1].subject
    # Every other mail about the quarterly report to QX01's liaison is an escalation once it is missed:
    # 催办 one working day after the due date (Mon 22 Dec), 督办 three (Thu 25 Dec).
    others = [r for r in received if r.rcpt_tos == [QX01_LIAISON] and "季度报告" in r.subject and r not in qx01]
    assert [(outbox[r.message_id].key.split(":")[:4], r.subject[: r.subject.index("】") + 1], r.day) for r in others] == [
        (["escalation", "overdue", str(q4["QX01"].id), "1"], "【催办】", dt.date(2025, 12, 22)),
        (["escalation", "overdue", str(q4["QX01"].id), "2"], "【督办】", dt.date(2025, 12, 25)),
    ]

    # QX02 submits on 15 Dec: the request and the reminder of 10 Dec, nothing after.
    qx02 = for_obligation(received, outbox, q4["QX02"], QX02_LIAISON)
    assert [r.day for r in qx02] == [dt.date(2025, 12, 5), dt.date(2025, 12, 10)]
    assert all("季度报告" in r.subject and "柳河乡" in r.subject for r in qx02)
    assert [r for r in received if r.rcpt_tos == [QX02_LIAISON] and "季度报告" in r.subject] == qx02
    assert not [r for r in received if r.rcpt_tos == [QX02_LIAISON] and "季度报告" in r.subject and r.day >= SUBMIT_DAY]
    reviewer = [r for r in received if r.rcpt_tos == ["qx02-secretary@qingxi.example"] and "季度报告" in r.subject]
    assert [(r.subject.startswith("【待审核】"), r.day) for r in reviewer] == [(True, SUBMIT_DAY)]
    assert not [k for k in (m.key for m in outbox.values()) if k.startswith(f"escalation:{q4['QX02'].id}:")]

    with Session(engine) as s:
        assert s.get(Obligation, q4["QX01"].id).status == "missed"  # type: ignore[union-attr]
        assert s.get(Obligation, q4["QX02"].id).status == "submitted"  # type: ignore[union-attr]
        logged = s.exec(select(ReminderLog.obligation_id, ReminderLog.offset, ReminderLog.user_id)).all()
        assert len(logged) == len(set(logged))

    # The list of weak villages: the request at launch, then after the downtime only the latest reminder
    # that has come (offset 3, 29 Sep) on 1 Oct, then 1 and 0 working days before 10 Oct.
    for code, to in (("QX01", QX01_LIAISON), ("QX02", QX02_LIAISON)):
        got = for_obligation(received, outbox, lists[code], to)
        assert [r.virtual_now for r in got] == [LAUNCH, at(dt.date(2025, 10, 1)), at(dt.date(2025, 10, 9)),
                                               at(dt.date(2025, 10, 10))]
        assert all("名单" in r.subject for r in got)
