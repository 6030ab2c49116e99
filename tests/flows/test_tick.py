"""The calendar tick over real dates: collection requests, reminders at working-day offsets, catch-up,
no mail after submission, digests, and delivery through the outbox."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.clock import CHINA_TZ
from core.db import session_scope
from flows.launch import launch_campaign
from flows.tick import deliver_notifications, set_mailer
from flows.tick import tick as tick_flow
from models import Obligation, OutboxMessage, ReminderLog, Submission, User
from notifications.mailer import MemoryMailer
from tasks.lease import acquire
from tasks.tick import climb_ladder
from tests.support.clock import at, days
from tests.support.tick import tick, tick_days
from tests.support.world import as_user

LAUNCH = at(dt.date(2025, 1, 2))


def q4_report(engine: Engine) -> Obligation:
    with Session(engine) as s:
        return s.exec(select(Obligation).where(Obligation.rule_key == "quarterly_report", Obligation.period == "2025Q4")).one()


def mails_for(engine: Engine, obligation_id: int, username: str) -> list[tuple[int, dt.date]]:
    """(offset, day) of every request/reminder logged for the user on the obligation."""
    with Session(engine) as s:
        user = s.exec(select(User).where(User.username == username)).one()
        rows = s.exec(select(ReminderLog).where(ReminderLog.obligation_id == obligation_id, ReminderLog.user_id == user.id)
                      .order_by(col(ReminderLog.id))).all()
        return [(r.offset, r.remind_on) for r in rows]


def submit_report(engine: Engine, obligation_id: int, when: dt.datetime) -> None:
    """QX01's liaison fills in the draft the tick made for the report and submits it."""
    from tasks import review

    with session_scope(engine) as s:
        liaison = as_user(s, "qx01-liaison")
        draft = s.exec(select(Submission).where(Submission.obligation_id == obligation_id)).one()
        data = {"basic_situation": "全镇后进村整顿有序推进", "results": "新发展党员3名",
                "main_problems": "个别村班子不团结", "next_steps": "下季度完成换届调整"}
        review.update_draft(s, liaison, when, draft.id or 0, data, draft.version)
        review.submit_submission(s, liaison, when, draft.id or 0, draft.version)


@pytest.fixture
async def campaign(demo_county: Engine) -> Engine:
    await launch_campaign("weak_village_rectification", "QX01", 2025, now=LAUNCH)
    return demo_county


async def test_request_then_reminders_on_working_day_offsets(campaign: Engine) -> None:
    ob = q4_report(campaign)
    assert (ob.opens_on, ob.due_on) == (dt.date(2025, 12, 5), dt.date(2025, 12, 19))
    tick_days(campaign, days(dt.date(2025, 12, 1), dt.date(2025, 12, 23)))
    # Request when the window opens; then 7, 3, 1 working days before and on the due day (Fri 19 Dec).
    assert mails_for(campaign, ob.id or 0, "qx01-liaison") == [
        (-1, dt.date(2025, 12, 5)),
        (7, dt.date(2025, 12, 10)),
        (3, dt.date(2025, 12, 16)),
        (1, dt.date(2025, 12, 18)),
        (0, dt.date(2025, 12, 19)),
    ]
    with Session(campaign) as s:
        assert s.get(Obligation, ob.id).status == "missed"  # type: ignore[union-attr]
        draft = s.exec(select(Submission).where(Submission.obligation_id == ob.id)).one()
        assert draft.status == "draft" and draft.created_by is None
        mails = {m.key: m.subject for m in s.exec(select(OutboxMessage).where(col(OutboxMessage.key).like(f"%:{ob.id}:%")))}
    subjects = [subject for key, subject in mails.items() if key.startswith(("request:", "reminder:"))]
    assert any("还剩" in subject for subject in subjects) and any("今日截止" in subject for subject in subjects)
    assert len(subjects) == 5  # one liaison in the demo township
    # ... and the missed deadline went up the ladder on Mon 22 Dec (催办), one working day late.
    assert [subject[:4] for key, subject in mails.items() if key.startswith("escalation:")] == ["【催办】"]

async def test_a_days_reminders_are_written_in_deadline_then_person_order(demo_county: Engine) -> None:
    """The same day's reminders get the same ids run after run: deadlines by id, then people by id."""
    for township in ("QX01", "QX02", "QX03"):
        await launch_campaign("weak_village_rectification", township, 2025, now=LAUNCH)
    tick_days(demo_county, days(dt.date(2025, 12, 1), dt.date(2025, 12, 19)))
    with Session(demo_county) as s:
        logs = s.exec(select(ReminderLog).order_by(col(ReminderLog.id))).all()
    by_day: dict[dt.date, list[tuple[int, int]]] = {}
    for row in logs:
        by_day.setdefault(row.remind_on, []).append((row.obligation_id, row.user_id))
    assert len({ob for ob, _ in by_day[dt.date(2025, 12, 10)]}) >= 3  # several townships' deadlines that day
    for day, rows in by_day.items():
        assert rows == sorted(rows), day


async def test_catch_up_sends_only_the_latest_missed_reminder_once(campaign: Engine) -> None:
    ob = q4_report(campaign)
    tick(campaign, at(dt.date(2025, 12, 17)))  # first tick after downtime
    tick(campaign, at(dt.date(2025, 12, 17), 15))  # the same day again
    assert mails_for(campaign, ob.id or 0, "qx01-liaison") == [(-1, dt.date(2025, 12, 17)), (3, dt.date(2025, 12, 16))]


async def test_no_reminder_for_a_deadline_already_past(campaign: Engine) -> None:
    ob = q4_report(campaign)
    tick(campaign, at(dt.date(2025, 12, 22)))
    assert mails_for(campaign, ob.id or 0, "qx01-liaison") == []
    with Session(campaign) as s:
        assert s.get(Obligation, ob.id).status == "missed"  # type: ignore[union-attr]


async def test_no_mail_after_submission(campaign: Engine) -> None:
    ob = q4_report(campaign)
    tick_days(campaign, days(dt.date(2025, 12, 5), dt.date(2025, 12, 16)))
    submit_report(campaign, ob.id or 0, at(dt.date(2025, 12, 17)))
    tick_days(campaign, days(dt.date(2025, 12, 17), dt.date(2025, 12, 23)))
    offsets = [o for o, _ in mails_for(campaign, ob.id or 0, "qx01-liaison")]
    assert offsets == [-1, 7, 3]
    with Session(campaign) as s:
        assert s.get(Obligation, ob.id).status == "submitted"  # type: ignore[union-attr]


async def test_daily_digest_instead_of_one_mail_per_item(campaign: Engine) -> None:
    with session_scope(campaign) as s:
        user = s.exec(select(User).where(User.username == "qx01-liaison")).one()
        user.daily_digest = True
        s.add(user)
    ob = q4_report(campaign)
    tick(campaign, at(dt.date(2025, 12, 10), 7))  # before the digest hour: logged, not yet mailed
    with Session(campaign) as s:
        assert s.exec(select(OutboxMessage).where(col(OutboxMessage.key).like("reminder:%"))).all() == []
        assert s.exec(select(OutboxMessage).where(col(OutboxMessage.key).like("digest:%"))).all() == []
    tick(campaign, at(dt.date(2025, 12, 10), 9))
    tick(campaign, at(dt.date(2025, 12, 10), 10))
    with Session(campaign) as s:
        digests = s.exec(select(OutboxMessage).where(col(OutboxMessage.key).like("digest:%"))).all()
        assert len(digests) == 1
        assert "后进薄弱村党组织建设季度报告" in digests[0].body_text
        logged = s.exec(select(ReminderLog).where(ReminderLog.obligation_id == ob.id, ReminderLog.offset == 7)).one()
        assert logged.outbox_id == digests[0].id


async def test_tick_flow_and_delivery_are_idempotent(campaign: Engine) -> None:
    mailer = MemoryMailer()
    set_mailer(mailer)
    try:
        now = at(dt.date(2025, 12, 10))
        first = await tick_flow(now=now)
        again = await tick_flow(now=now)
        assert first["windows_opened"] >= 1 and first["reminders"] >= 1
        assert again["windows_opened"] == 0 and again["reminders"] == 0
        sent = await deliver_notifications(now=now)
        assert sent["sent"] == len(mailer.sent) > 0
        assert (await deliver_notifications(now=now))["sent"] == 0
        ids = mailer.message_ids()
        assert len(ids) == len(set(ids))
        with Session(campaign) as s:
            assert {m.status for m in s.exec(select(OutboxMessage))} == {"sent"}
    finally:
        set_mailer(None)


def test_only_one_holder_gets_the_lease(engine: Engine) -> None:
    now = LAUNCH
    ttl = dt.timedelta(minutes=5)
    assert acquire(engine, "tick", "a", now, ttl) is True
    assert acquire(engine, "tick", "b", now, ttl) is False
    assert acquire(engine, "tick", "a", now + dt.timedelta(minutes=1), ttl) is True  # renewal
    assert acquire(engine, "tick", "b", now + dt.timedelta(minutes=7), ttl) is True  # expired: taken over


async def test_launch_inside_an_open_window_sends_the_request_at_once(demo_county: Engine) -> None:
    # Launched on 10 Dec 2025: the Q4 report window (opened 5 Dec) is already open.
    await launch_campaign("weak_village_rectification", "QX01", 2025, now=at(dt.date(2025, 12, 10)))
    ob = q4_report(demo_county)
    assert mails_for(demo_county, ob.id or 0, "qx01-liaison") == [(-1, dt.date(2025, 12, 10))]
    with Session(demo_county) as s:
        assert s.exec(select(Submission).where(Submission.obligation_id == ob.id)).one().status == "draft"
    tick(demo_county, at(dt.date(2025, 12, 10), 10))  # the same day's tick adds the 7-day reminder only
    assert [o for o, _ in mails_for(demo_county, ob.id or 0, "qx01-liaison")] == [-1, 7]


async def test_posting_material_takes_over_the_system_draft(anon: Any, login: Any, demo_county: Engine,
                                                            clock: Any) -> None:
    clock.set(at(dt.date(2025, 12, 10)))
    await launch_campaign("weak_village_rectification", "QX01", 2025, now=at(dt.date(2025, 12, 10)))
    ob = q4_report(demo_county)
    headers = await login(anon, "qx01-liaison")
    data = {"basic_situation": "全镇后进村整顿有序推进", "results": "新发展党员3名", "main_problems": "个别村班子不团结",
            "next_steps": "下季度完成换届调整"}
    first = await anon.post("/api/v1/submissions", headers=headers, json={"obligation_id": ob.id, "data": data, "submit": True})
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "in_review"
    again = await anon.post("/api/v1/submissions", headers=headers, json={"obligation_id": ob.id, "data": data})
    assert again.status_code == 409 and again.json()["submission_id"] == first.json()["id"]


async def test_missed_deadline_climbs_the_ladder_once_per_level_and_stops_on_submission(campaign: Engine) -> None:
    from models import Escalation

    ob = q4_report(campaign)  # due Fri 2025-12-19
    # Ladder of the definition: 催办 +1, 督办 +3, 约谈 +5, 通报 +5, 问责 +10 working days.
    for day in days(dt.date(2025, 12, 19), dt.date(2026, 1, 4)):
        tick(campaign, at(day))
        with session_scope(campaign) as s:  # the ladder step once more the same day: nothing more
            assert climb_ladder(s, at(day, 15)) == 0
    with Session(campaign) as s:
        levels = [(e.level, e.level_key, e.created_at.astimezone(CHINA_TZ).date()) for e in
                  s.exec(select(Escalation).where(Escalation.obligation_id == ob.id).order_by(col(Escalation.level)))]
        # +1 working day: Mon 22 Dec; +3: Thu 25 Dec; +5: across New Year (1–3 Jan off) to Sun 4 Jan 2026,
        # a make-up working day (调休).
        assert levels == [(1, "urge", dt.date(2025, 12, 22)), (2, "supervise", dt.date(2025, 12, 25)),
                          (3, "interview", dt.date(2026, 1, 4))]
        assert s.get(Obligation, ob.id).escalation_level == 3  # type: ignore[union-attr]
        mails = s.exec(select(OutboxMessage).where(col(OutboxMessage.key).like(f"escalation:overdue:{ob.id}:%"))).all()
        assert any("【催办】" in m.subject for m in mails) and any("【约谈乡镇党委主要负责同志】" in m.subject for m in mails)
    # A late submission stops the climb and resolves the open escalations.
    submit_report(campaign, ob.id or 0, at(dt.date(2026, 1, 5)))
    tick_days(campaign, days(dt.date(2026, 1, 5), dt.date(2026, 2, 10)))
    with Session(campaign) as s:
        rows = s.exec(select(Escalation).where(Escalation.obligation_id == ob.id)).all()
        assert len(rows) == 3 and {e.status for e in rows} == {"resolved"}
