"""Each invariant notices what it is about (the whole-year run shows they hold; here they must fail)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

from core.clock import CHINA_TZ
from domain.calendar import WorkCalendar
from models import OutboxMessage
from simulation.invariants import (
    Facts,
    _event_order,
    every_mail_received_once,
    nothing_chases_a_submitted_report,
    outbox_keys_unique_and_delivered,
    people_actions_accepted,
)
from simulation.smtp import Received
from tasks.audit import VerifyResult

T = dt.datetime(2026, 10, 20, 9, tzinfo=CHINA_TZ)


def _mail(key: str, *, status: str = "sent", at: dt.datetime = T) -> OutboxMessage:
    return OutboxMessage(key=key, message_id=f"<{key}@sim>", to_addr="a@sim.example", subject="s", body_text="",
                         body_html="", status=status, created_at=at)


def _facts(outbox: list[OutboxMessage], **kw: Any) -> Facts:
    values: dict[str, Any] = dict(
        end=T.date(), calendar=WorkCalendar(), obligations=[], submitters={}, logs=[], outbox=outbox,
        overdue_escalations=[], events={}, due_changes={}, submission_statuses={}, audit=VerifyResult(True, 0))
    return Facts(**(values | kw))


def _run(received: tuple[str, ...] = (), errors: tuple[str, ...] = ()) -> Any:
    return SimpleNamespace(smtp=SimpleNamespace(handler=SimpleNamespace(
        received=[Received("a@sim.example", "s", mid, T) for mid in received])),
        people=SimpleNamespace(errors=list(errors)), counts={"submissions": 3, "resubmissions": 0, "returns": 1,
                                                              "approvals": 2})


def test_a_mail_left_unsent_or_received_twice_or_never_is_reported() -> None:
    outbox = [_mail("request:1:7"), _mail("reminder:1:3:7", status="dead")]
    found = outbox_keys_unique_and_delivered(_run(), _facts(outbox))
    assert not found.ok and found.problems == ["dead 1 封"]
    found = every_mail_received_once(_run(("<request:1:7@sim>", "<request:1:7@sim>", "<other@sim>")), _facts(outbox))
    assert not found.ok and found.problems == ["重复收到 1 封", "未知 1 封", "未收到 1 封"]
    assert every_mail_received_once(_run(("<request:1:7@sim>", "<reminder:1:3:7@sim>")), _facts(outbox)).ok


def test_a_reminder_or_overdue_mail_after_the_submission_is_reported() -> None:
    submitted = {1: [(T - dt.timedelta(days=1), "submit")]}
    outbox = [_mail("reminder:1:3:7"), _mail("escalation:overdue:1:2:7"), _mail("reminder:2:3:7"), _mail("digest:7:x")]
    found = nothing_chases_a_submitted_report(_run(), _facts(outbox, events=submitted))
    assert not found.ok and found.checked == 3 and len(found.problems) == 2
    returned = {1: submitted[1] + [(T - dt.timedelta(hours=1), "return")]}
    assert nothing_chases_a_submitted_report(_run(), _facts(outbox, events=returned)).ok


def test_a_report_sent_back_at_the_moment_it_was_submitted_stands_open() -> None:
    # the hollow-report trigger returns a report inside its submit's transaction: the same timestamp
    earlier = T - dt.timedelta(days=3)
    events = sorted([(earlier, "return"), (earlier, "submit")], key=_event_order)
    assert events == [(earlier, "submit"), (earlier, "return")]
    outbox = [_mail("reminder:1:0:7", at=T)]
    assert nothing_chases_a_submitted_report(_run(), _facts(outbox, events={1: events})).ok


def test_a_refused_action_of_the_people_is_reported() -> None:
    assert people_actions_accepted(_run(), _facts([])).checked == 6
    found = people_actions_accepted(_run(errors=("2026-10-20 QX01-plan: 版本号已过期",)), _facts([]))
    assert not found.ok and found.checked == 7 and found.problems == ["2026-10-20 QX01-plan: 版本号已过期"]
