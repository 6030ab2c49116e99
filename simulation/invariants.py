"""What must hold after a run, checked from the database and from what the SMTP server received.

Each invariant is one function of the run and of :class:`Facts` (the database read once at the end)
returning an :class:`~simulation.config.Invariant`; :func:`check_invariants` runs :data:`INVARIANTS` in order.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import select as columns
from sqlmodel import Session, col, select

from core.clock import CHINA_TZ, china_date
from domain import escalation as escalation_rules
from domain.calendar import WorkCalendar, reminder_dates
from models import (
    AuditEvent,
    Campaign,
    Escalation,
    Obligation,
    OutboxMessage,
    ReminderLog,
    Review,
    Submission,
    SubmissionRound,
    User,
)
from simulation.config import Invariant
from simulation.report import parse_escalation_key
from tasks.audit import VerifyResult, verify_chain
from tasks.calendar import load_work_calendar

if TYPE_CHECKING:
    from simulation.run import Run

Events = dict[int, list[tuple[dt.datetime, str]]]


class ObligationFact(NamedTuple):
    """The columns of an obligation the invariants read (rows, not ORM objects: a province has 254,000)."""

    id: int
    key: str
    rule_key: str
    opens_on: dt.date
    due_on: dt.date
    status: str
    escalation_level: int


class CampaignFact(NamedTuple):
    definition_key: str
    township_id: int


class MailFact(NamedTuple):
    """The columns of an outbox message the invariants read (not its rendered bodies)."""

    key: str
    message_id: str
    status: str
    created_at: dt.datetime


class ReminderFact(NamedTuple):
    obligation_id: int
    offset: int
    user_id: int
DueChanges = dict[int, list[tuple[dt.datetime, dt.date, dt.date]]]


@dataclass
class Facts:
    """The database at the end of the run (``end``: its last day), read once for every invariant."""

    end: dt.date
    calendar: WorkCalendar
    obligations: list[tuple[ObligationFact, CampaignFact]]
    submitters: dict[int, list[int]]  # township id → its active submitters
    logs: list[ReminderFact]
    outbox: list[MailFact]
    overdue_escalations: list[Escalation]
    events: Events  # obligation id → its submits and returns in time order
    due_changes: DueChanges  # obligation id → its deadline moves: (when, before, after)
    submission_statuses: dict[int, list[str]]  # obligation id → its submissions' statuses
    audit: VerifyResult


def _obligation_events(s: Session) -> Events:
    """Per obligation, its submits and returns in time order (what makes it submitted or open)."""
    events: Events = defaultdict(list)
    for ob_id, when in s.exec(select(Submission.obligation_id, SubmissionRound.submitted_at)
                              .join(Submission, col(SubmissionRound.submission_id) == Submission.id)):
        events[ob_id or 0].append((when, "submit"))
    for ob_id, when in s.exec(select(Submission.obligation_id, Review.created_at)
                              .join(Submission, col(Review.submission_id) == Submission.id)
                              .where(Review.decision == "return")):
        events[ob_id or 0].append((when, "return"))
    for rows in events.values():
        rows.sort(key=_event_order)
    return events


def _event_order(event: tuple[dt.datetime, str]) -> tuple[dt.datetime, bool]:
    """Time order, and a return at the very moment of its submission (a hollow report sent back by the trigger
    inside the submit's transaction) after it: by name "return" would come first and leave it submitted."""
    return event[0], event[1] == "return"


def _due_changes(s: Session) -> DueChanges:
    """Per obligation, its deadline moves (a late return's revision time): (when, before, after)."""
    changes: DueChanges = defaultdict(list)
    for e in s.exec(select(AuditEvent).where(AuditEvent.action == "obligation.revision_due").order_by(col(AuditEvent.seq))):
        before, after = e.before or {}, e.after or {}
        changes[e.subject_id].append((e.at, dt.date.fromisoformat(str(before["due_on"])),
                                      dt.date.fromisoformat(str(after["due_on"]))))
    return changes


_OBLIGATION_COLUMNS = (col(Obligation.id), col(Obligation.key), col(Obligation.rule_key), col(Obligation.opens_on),
                       col(Obligation.due_on), col(Obligation.status), col(Obligation.escalation_level),
                       col(Campaign.definition_key), col(Campaign.township_id))
_REMINDER_COLUMNS = (col(ReminderLog.obligation_id), col(ReminderLog.offset), col(ReminderLog.user_id))
_MAIL_COLUMNS = (col(OutboxMessage.key), col(OutboxMessage.message_id), col(OutboxMessage.status),
                 col(OutboxMessage.created_at))


def read_facts(run: Run, end: dt.date) -> Facts:
    with Session(run.engine) as s:
        submitters: dict[int, list[int]] = defaultdict(list)
        for user in s.exec(select(User).where(User.role == "submitter", User.active == True)):  # noqa: E712
            submitters[user.org_unit_id or 0].append(user.id or 0)
        statuses: dict[int, list[str]] = defaultdict(list)
        for ob_id, status in s.exec(select(Submission.obligation_id, Submission.status)):
            statuses[ob_id or 0].append(status)
        return Facts(
            end=end, calendar=load_work_calendar(s),
            obligations=[(ObligationFact(*row[:7]), CampaignFact(*row[7:])) for row in s.execute(
                columns(*_OBLIGATION_COLUMNS).join(Campaign, col(Obligation.campaign_id) == col(Campaign.id))
                .order_by(col(Obligation.id)))],
            submitters=submitters,
            logs=[ReminderFact(*row) for row in s.execute(columns(*_REMINDER_COLUMNS))],
            outbox=[MailFact(*row) for row in s.execute(columns(*_MAIL_COLUMNS).order_by(col(OutboxMessage.id)))],
            overdue_escalations=list(s.exec(select(Escalation).where(Escalation.trigger == "overdue"))),
            events=_obligation_events(s), due_changes=_due_changes(s), submission_statuses=statuses,
            audit=verify_chain(s),
        )


def _due_at(changes: list[tuple[dt.datetime, dt.date, dt.date]], final: dt.date, moment: dt.datetime) -> dt.date:
    """The deadline in force at ``moment``."""
    due = changes[0][1] if changes else final
    for when, _, after in changes:
        if when > moment:
            break
        due = after
    return due


def _submitted_at(events: list[tuple[dt.datetime, str]], moment: dt.datetime) -> bool:
    state = False
    for when, kind in events:
        if when > moment:
            break
        state = kind == "submit"
    return state


def _obligation_mailed(key: str) -> int | None:
    """The obligation a request, reminder or overdue-escalation mail is about (None for other mail)."""
    kind = key.split(":", 2)
    if kind[0] in ("request", "reminder"):
        return int(kind[1])
    escalation = parse_escalation_key(key)
    return escalation.item_id if escalation is not None and escalation.trigger == "overdue" else None


# ---- the invariants -------------------------------------------------------------------------------


def _expected_reminders(run: Run, facts: Facts) -> set[tuple[int, int, int]]:
    """(obligation, offset, recipient) of every reminder the rules require on the ticks that ran: the latest
    offset passed at each tick inside the window, while nothing stood submitted."""
    ticks = sorted(run.tick_moments)
    tick_days = [china_date(t) for t in ticks]
    expected: set[tuple[int, int, int]] = set()
    for ob, campaign in facts.obligations:
        definition = run.definitions[campaign.definition_key]
        spec = definition.obligation(ob.rule_key).reminders or definition.reminders
        moves = facts.due_changes.get(ob.id or 0, [])
        dates_for = {due: reminder_dates(due, spec.offsets, spec.unit, facts.calendar)
                     for due in {ob.due_on, *(m[1] for m in moves), *(m[2] for m in moves)}}
        ob_events = facts.events.get(ob.id or 0, [])
        users = facts.submitters.get(campaign.township_id, [])
        lo = bisect.bisect_left(tick_days, ob.opens_on)
        hi = bisect.bisect_right(tick_days, ob.due_on)
        for moment in ticks[lo:hi]:
            today = china_date(moment)
            due = _due_at(moves, ob.due_on, moment)
            if today > due:
                continue
            passed = [off for off, day in dates_for[due] if day <= today]
            if not passed or _submitted_at(ob_events, moment):
                continue
            for user_id in users:
                expected.add((ob.id or 0, passed[-1], user_id))
    return expected


def reminders_sent_once(run: Run, facts: Facts) -> Invariant:
    """Each (obligation, offset, recipient) reminded once, and every reminder the rules require."""
    expected = _expected_reminders(run, facts)
    actual = Counter((r.obligation_id, r.offset, r.user_id) for r in facts.logs if r.offset >= 0)
    twice = [k for k, n in actual.items() if n > 1]
    missing = sorted(expected - set(actual))
    extra = sorted(set(actual) - expected)
    return Invariant("每条规则要求的提醒恰好发送一次", not (twice or missing or extra), len(expected),
                     [f"重复 {k}" for k in twice[:5]] + [f"缺少 {k}" for k in missing[:5]] + [f"多余 {k}" for k in extra[:5]])


def requests_sent_once(run: Run, facts: Facts) -> Invariant:
    """Every reporting window that a tick (or the launch) saw open sent its request once to each submitter."""
    request_days = sorted(china_date(t) for t in run.request_moments)
    expected: set[tuple[int, int]] = set()
    for ob, campaign in facts.obligations:
        i = bisect.bisect_left(request_days, ob.opens_on)
        if i < len(request_days) and request_days[i] <= ob.due_on:
            expected |= {(ob.id or 0, user_id) for user_id in facts.submitters.get(campaign.township_id, [])}
    requests = Counter((r.obligation_id, r.user_id) for r in facts.logs if r.offset < 0)
    bad = sorted(expected ^ set(requests)) + [k for k, n in requests.items() if n > 1]
    return Invariant("每个报送窗口的报送通知恰好发送一次", not bad, len(expected), [f"报送通知不符 {k}" for k in bad[:5]])


def nothing_chases_a_submitted_report(run: Run, facts: Facts) -> Invariant:
    """No request, reminder or overdue escalation mail while the obligation stood submitted."""
    after: list[str] = []
    checked = 0
    for m in facts.outbox:
        ob_id = _obligation_mailed(m.key)
        if ob_id is None:
            continue
        checked += 1
        if _submitted_at(facts.events.get(ob_id, []), m.created_at):
            after.append(f"{m.key} 写于 {m.created_at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M}，事项已报送")
    return Invariant("报送后不再发送提醒或催办邮件", not after, checked, after[:10])


def missed_deadlines_reach_their_level(run: Run, facts: Facts) -> Invariant:
    """Every missed obligation at the level its lateness requires, every level recorded."""
    tick_days = [china_date(t) for t in run.tick_moments]
    last_day = max(tick_days) if tick_days else facts.end
    by_ob: dict[int, set[int]] = defaultdict(set)
    for esc in facts.overdue_escalations:
        by_ob[esc.obligation_id or 0].add(esc.level)
    wrong: list[str] = []
    missed = 0
    for ob, campaign in facts.obligations:
        definition = run.definitions[campaign.definition_key]
        if ob.status == "missed" and definition.escalation.triggers.overdue.enabled:
            missed += 1
            target = escalation_rules.trigger_level_reached(definition.escalation, "overdue", ob.due_on, facts.calendar,
                                                            last_day)
            if ob.escalation_level != target:
                wrong.append(f"{ob.key}：级别 {ob.escalation_level}，应为 {target}")
        first = definition.escalation.level_index("overdue")
        if ob.escalation_level and by_ob[ob.id or 0] != set(range(first, ob.escalation_level + 1)):
            wrong.append(f"{ob.key}：记录的级别 {sorted(by_ob[ob.id or 0])}，应为 {first}..{ob.escalation_level}")
    return Invariant("逾期事项升级到其逾期天数要求的级别", not wrong, missed, wrong[:10])


def a_jump_mails_only_the_highest_level(run: Run, facts: Facts) -> Invariant:
    """A climb over several levels at once (after a clock jump) mails only the highest."""
    mailed: dict[tuple[int, dt.datetime], set[int]] = defaultdict(set)
    recorded: dict[tuple[int, dt.datetime], set[int]] = defaultdict(set)
    for esc in facts.overdue_escalations:
        recorded[(esc.obligation_id or 0, esc.created_at)].add(esc.level)
    for m in facts.outbox:
        escalation = parse_escalation_key(m.key)
        if escalation is not None and escalation.trigger == "overdue" and escalation.level is not None:
            mailed[(escalation.item_id, m.created_at)].add(escalation.level)
    stale = [f"事项 {ob} 于 {when.astimezone(CHINA_TZ):%Y-%m-%d} 记录 {sorted(levels)} 级，邮件发送了 {sorted(mailed[(ob, when)])} 级"
             for (ob, when), levels in recorded.items() if mailed.get((ob, when), set()) - {max(levels)}]
    return Invariant("一次升级多级时只发送最高一级的邮件", not stale, len(recorded), stale[:10])


def outbox_keys_unique_and_delivered(run: Run, facts: Facts) -> Invariant:
    keys = Counter(m.key for m in facts.outbox)
    duplicates = [k for k, n in keys.items() if n > 1]
    left = Counter(m.status for m in facts.outbox if m.status != "sent")
    return Invariant("发件箱无重复键、最终全部投递", not duplicates and not left, len(facts.outbox),
                     [f"重复键 {k}" for k in duplicates[:5]] + [f"{status} {n} 封" for status, n in left.items()])


def every_mail_received_once(run: Run, facts: Facts) -> Invariant:
    received = Counter(r.message_id for r in run.smtp.handler.received)
    ids = {m.message_id for m in facts.outbox}
    twice = [mid for mid, n in received.items() if n > 1]
    unknown = set(received) - ids
    never = ids - set(received)
    bad = bool(twice or unknown or never)
    return Invariant("SMTP 服务器收到每封邮件恰好一次", not bad, len(ids),
                     [f"重复收到 {len(twice)} 封", f"未知 {len(unknown)} 封", f"未收到 {len(never)} 封"] if bad else [])


def approval_concludes_the_obligation(run: Run, facts: Facts) -> Invariant:
    """A final approval concludes its obligation (met or late)."""
    subs = facts.submission_statuses
    stuck = [f"{ob.key}（{ob.status}）" for ob, _ in facts.obligations
             if ob.status in ("open", "submitted") and subs.get(ob.id or 0)
             and all(st == "approved" for st in subs[ob.id or 0] if st != "withdrawn")]
    return Invariant("审核通过的材料使其事项办结", not stuck,
                     sum(1 for v in subs.values() if v and all(st == "approved" for st in v)),
                     ([f"{len(stuck)} 项已全部审核通过但事项仍未办结"] if stuck else []) + stuck[:5])


def audit_chain_intact(run: Run, facts: Facts) -> Invariant:
    audit = facts.audit
    return Invariant("审计链校验通过", audit.ok, audit.checked, [audit.reason or ""] if not audit.ok else [])


def people_actions_accepted(run: Run, facts: Facts) -> Invariant:
    """Every action of the simulated people was accepted (checked: the actions taken and refused)."""
    errors = run.people.errors
    acted = sum(run.counts[k] for k in ("submissions", "resubmissions", "returns", "approvals"))
    return Invariant("模拟人员的操作均被系统接受", not errors, acted + len(errors), errors[:10])


INVARIANTS: tuple[Callable[[Run, Facts], Invariant], ...] = (
    reminders_sent_once, requests_sent_once, nothing_chases_a_submitted_report, missed_deadlines_reach_their_level,
    a_jump_mails_only_the_highest_level, outbox_keys_unique_and_delivered, every_mail_received_once,
    approval_concludes_the_obligation, audit_chain_intact, people_actions_accepted,
)


def check_invariants(run: Run, end: dt.date) -> list[Invariant]:
    """Every invariant of :data:`INVARIANTS`, in order, over the database as the run left it."""
    facts = read_facts(run, end)
    return [check(run, facts) for check in INVARIANTS]
