"""The calendar tick: open stages and reporting windows, send collection requests and reminders,
mark missed deadlines, climb the escalation ladders. Every step is idempotent: unique keys make a re-run
(or a second process) harmless.

``TICK`` is the one definition of the tick: its steps, in order, grouped into the transactions that commit
them. The Prefect flow (``flows/tick.py``) runs each transaction as a task; the simulation, the benchmarks
and the tests run the same definition through ``run_tick``. A new step is added to ``TICK`` and nowhere else."""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Integer, bindparam, exists, insert, literal, update
from sqlalchemy import select as sql_select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from core import metrics
from core.clock import CHINA_TZ, china_date
from core.db import execute_prebuilt, one_of, session_scope
from core.settings import get_settings
from domain.calendar import WorkCalendar, reminder_dates
from domain.definitions import Definition
from domain.vocabulary import CampaignStatus, ObligationStatus, StageStatus
from models import Campaign, Obligation, OrgUnit, ReminderLog, Stage, Submission, User
from notifications.outbox import MailRequest, absolute_url, enqueue_mail, enqueue_mails
from tasks import triggers, vetoes
from tasks.audit import TICK as TICK_ACTOR
from tasks.audit import record
from tasks.calendar import load_work_calendar
from tasks.registry import definition_of, definition_version

REQUEST_OFFSET = -1  # the ReminderLog offset that records the opening request
HORIZON_DAYS = 120  # no definition reminds earlier than this before a deadline
_INSERT_CHUNK = 500  # reminder_log rows per INSERT

_reminder_log = ReminderLog.__table__  # type: ignore[attr-defined]
BEFORE_CLOSE = (StageStatus.PENDING, StageStatus.OPEN)  # what a stage is until its window closes


def local(now: dt.datetime) -> dt.datetime:
    return now.astimezone(CHINA_TZ)


_stages = Stage.__table__  # type: ignore[attr-defined]
_obligations = Obligation.__table__  # type: ignore[attr-defined]

# The tick runs every day (every minute in the embedded mode) and most days finds nothing to do, so its hot
# statements are built once here with bound parameters: SQLAlchemy then skips building them and computing their
# cache keys on every call (a statement's cache key is memoized on it), and a step that finds nothing costs one
# indexed probe instead of its full statements. The ORM UPDATEs stay built per call: their in-session
# synchronisation evaluates the criteria in Python, which reads a bound parameter's default, not its value.
_STAGES_DUE = sql_select(
    exists().where(_stages.c.status == StageStatus.PENDING, _stages.c.opens_on <= bindparam("today")),
    exists().where(_stages.c.status.in_(BEFORE_CLOSE), _stages.c.closes_on < bindparam("today")),
)
_BEFORE_DUE = (ObligationStatus.SCHEDULED, ObligationStatus.OPEN)
_MISSED_DUE = sql_select(exists().where(_obligations.c.status.in_(_BEFORE_DUE), _obligations.c.due_on < bindparam("today")))


def advance_stages(session: Session, today: dt.date) -> dict[str, int]:
    """pending → open when the window opens; a window that closes without its gate passed → overdue."""
    to_open, to_close = execute_prebuilt(session, _STAGES_DUE, {"today": today}).one()
    opened = session.execute(
        update(Stage).where(col(Stage.status) == StageStatus.PENDING, col(Stage.opens_on) <= today)
        .values(status=StageStatus.OPEN, version=Stage.version + 1)
    ).rowcount if to_open else 0  # type: ignore[attr-defined]
    overdue = session.execute(
        update(Stage).where(col(Stage.status).in_(BEFORE_CLOSE), col(Stage.closes_on) < today,
                            col(Stage.gate_key).is_not(None))
        .values(status=StageStatus.OVERDUE, version=Stage.version + 1)
    ).rowcount if to_close else 0  # type: ignore[attr-defined]
    closed = session.execute(
        update(Stage).where(col(Stage.status).in_(BEFORE_CLOSE), col(Stage.closes_on) < today,
                            col(Stage.gate_key).is_(None))
        .values(status=StageStatus.CLOSED, version=Stage.version + 1)
    ).rowcount if to_close else 0  # type: ignore[attr-defined]
    return {"stages_opened": opened, "stages_overdue": overdue, "stages_closed": closed}


def mark_missed(session: Session, today: dt.date) -> int:
    """Deadlines that passed with nothing submitted become missed (escalation takes over)."""
    if not execute_prebuilt(session, _MISSED_DUE, {"today": today}).scalar():
        return 0
    return int(session.execute(
        update(Obligation).where(col(Obligation.status).in_(_BEFORE_DUE), col(Obligation.due_on) < today)
        .values(status=ObligationStatus.MISSED, version=Obligation.version + 1)
    ).rowcount)  # type: ignore[attr-defined]


@dataclass
class _Candidate:
    obligation: Obligation
    campaign: Campaign
    subject: OrgUnit
    township: OrgUnit


def _submitters(session: Session, township_ids: set[int]) -> dict[int, list[User]]:
    out: dict[int, list[User]] = defaultdict(list)
    if township_ids:
        for user in session.exec(select(User).where(User.role == "submitter", User.active == True,  # noqa: E712
                                                    col(User.org_unit_id).in_(township_ids)).order_by(col(User.id))):
            out[user.org_unit_id or 0].append(user)
    return out


def _missing(definition: Definition, rule_key: str, draft: dict[str, Any] | None) -> list[str]:
    """What the township has not filled in yet: the required fields of the rule's form (``draft`` is its data)."""
    rule = definition.obligation(rule_key)
    if not rule.form:
        return ["尚未报告完成情况"]
    form = definition.form(rule.form)
    if draft is None:
        return ["尚未填报"] + [f.label for f in form.fields if f.required]
    return [f.label for f in form.fields if f.required and draft.get(f.key) in (None, "", [])] or ["尚未提交"]


def _candidates_statement(statuses: list[ObligationStatus], where: list[Any]) -> Any:
    return (select(Obligation, Campaign, OrgUnit)
            .join(Campaign, col(Obligation.campaign_id) == Campaign.id)
            .join(OrgUnit, col(Obligation.subject_id) == OrgUnit.id)
            .where(col(Obligation.status).in_(statuses), col(Campaign.status) == CampaignStatus.ACTIVE, *where))


_TO_OPEN = _candidates_statement([ObligationStatus.SCHEDULED], [col(Obligation.opens_on) <= bindparam("today"),
                                                                col(Obligation.due_on) >= bindparam("today")])
"""The tick's windows to open (``open_obligations`` without a campaign)."""


def _candidates(session: Session, statuses: list[ObligationStatus], where: list[Any]) -> list[_Candidate]:
    return _candidate_rows(session, session.exec(_candidates_statement(statuses, where)).all())


def _candidate_rows(session: Session, rows: Any) -> list[_Candidate]:
    towns = {t.id: t for t in session.exec(select(OrgUnit).where(col(OrgUnit.id).in_({c.township_id for _, c, _ in rows})))} if rows else {}
    return [_Candidate(o, c, s, towns[c.township_id]) for o, c, s in rows]


def _drafts(session: Session, obligation_ids: list[int]) -> dict[int, Submission]:
    if not obligation_ids:
        return {}
    return {s.obligation_id or 0: s for s in session.exec(select(Submission).where(col(Submission.obligation_id).in_(obligation_ids)))}


def _draft_data(session: Session, obligation_ids: list[int]) -> dict[int, dict[str, Any]]:
    if not obligation_ids:
        return {}
    rows = session.execute(sql_select(col(Submission.obligation_id), col(Submission.data))
                           .where(one_of(session, col(Submission.obligation_id), obligation_ids, Integer())))
    return {obligation_id or 0: data or {} for obligation_id, data in rows}


class _Due(NamedTuple):
    """An open deadline as the reminders need it: plain columns, no ORM objects to build."""

    id: int
    rule_key: str
    title: str
    period: str
    due_on: dt.date
    definition_key: str
    definition_version: int
    township_id: int
    township: str
    subject_unit: str


def _open_deadlines_statement() -> Any:
    township = aliased(OrgUnit)
    columns: list[Any] = [Obligation.id, Obligation.rule_key, Obligation.title, Obligation.period, Obligation.due_on,
                           Campaign.definition_key, Campaign.definition_version, Campaign.township_id,
                           township.name, OrgUnit.name]
    return (sql_select(*columns)
            .join(Campaign, col(Obligation.campaign_id) == Campaign.id)
            .join(OrgUnit, col(Obligation.subject_id) == OrgUnit.id)
            .join(township, col(Campaign.township_id) == township.id)
            .where(col(Obligation.status) == ObligationStatus.OPEN, col(Campaign.status) == CampaignStatus.ACTIVE,
                   col(Obligation.due_on) >= bindparam("first"), col(Obligation.due_on) <= bindparam("last"))
            .order_by(col(Obligation.id)))  # the day's mails and log rows in one order, run after run


_OPEN_DEADLINES = _open_deadlines_statement()


def _open_deadlines(session: Session, first: dt.date, last: dt.date) -> list[_Due]:
    return [_Due(*row) for row in session.execute(_OPEN_DEADLINES, {"first": first, "last": last})]


def _logged(session: Session, obligation_ids: list[int]) -> set[tuple[int, int, int]]:
    if not obligation_ids:
        return set()
    rows = session.exec(select(ReminderLog.obligation_id, ReminderLog.offset, ReminderLog.user_id)
                        .where(col(ReminderLog.obligation_id).in_(obligation_ids)))
    return {(o, off, u) for o, off, u in rows}


_LOGGED_BETWEEN = (
    sql_select(col(ReminderLog.obligation_id), col(ReminderLog.offset), col(ReminderLog.user_id))
    .join(Obligation, col(Obligation.id) == col(ReminderLog.obligation_id))
    .where(col(Obligation.status) == ObligationStatus.OPEN, col(Obligation.due_on) >= bindparam("first"),
           col(Obligation.due_on) <= bindparam("last"))
)


def _logged_between(session: Session, first: dt.date, last: dt.date) -> set[tuple[int, int, int]]:
    """The reminders logged for the open deadlines due in [first, last]: the deadlines through
    ``ix_obligations_status_due``, their logs through the unique key, so the lookup follows the deadlines due, not
    the log's size (an ``IN`` list of thousands of ids made PostgreSQL scan the whole reminder_log)."""
    rows = session.execute(_LOGGED_BETWEEN, {"first": first, "last": last})
    return {(o, off, u) for o, off, u in rows}


def _item(c: _Candidate, today: dt.date) -> dict[str, Any]:
    return {
        "title": c.obligation.title, "township": c.township.name, "subject_unit": c.subject.name,
        "period": c.obligation.period, "due_date": c.obligation.due_on, "days_left": (c.obligation.due_on - today).days,
        "link": absolute_url("/todos"),
    }


def open_obligations(session: Session, now: dt.datetime, campaign_id: int | None = None) -> int:
    """Open the reporting windows that have started; create the draft and ask the township for it.

    With ``campaign_id`` (at launch) the windows the new campaign found already open are served too.
    """
    today = china_date(now)
    if campaign_id is None:
        candidates = _candidate_rows(session, session.exec(_TO_OPEN, params={"today": today}).all())
    else:
        candidates = _candidates(session, [ObligationStatus.SCHEDULED, ObligationStatus.OPEN], [
            col(Obligation.opens_on) <= today, col(Obligation.due_on) >= today, col(Obligation.campaign_id) == campaign_id])
    if not candidates:
        return 0
    ids = [c.obligation.id or 0 for c in candidates]
    drafts = _drafts(session, ids)
    logged = _logged(session, ids)
    people = _submitters(session, {c.campaign.township_id for c in candidates})
    known = _Known(drafts, logged, people, vetoes.bans(session))
    opened = 0
    for c in candidates:
        try:
            with session.begin_nested():  # a concurrent tick may have served this window: skip it
                opened += _open_one(session, c, known, today, now)
                session.flush()
        except IntegrityError:
            continue
    return opened


@dataclass
class _Known:
    """What opening the windows looks up once: drafts, requests sent, submitters, one-vote-veto bans."""

    drafts: dict[int, Submission]
    logged: set[tuple[int, int, int]]
    people: dict[int, list[User]]
    bans: list[vetoes.Ban]


def _open_one(session: Session, c: _Candidate, known: _Known, today: dt.date, now: dt.datetime) -> bool:
    """Open one window (its draft, its requests); False when a one-vote veto waived it instead."""
    ob = c.obligation
    definition = definition_of(c.campaign)
    rule = definition.obligation(ob.rule_key)
    stage = session.get(Stage, ob.stage_id) if ob.stage_id and rule.form else None
    gate_key = definition.review_for(rule.key, stage.key if stage else None, rule.form)[0] if rule.form else None
    ban = vetoes.ban_for(known.bans, definition.key, gate_key, c.campaign.year, ob.subject_id,
                         c.campaign.township_id) if gate_key else None
    if ban is not None:  # a vetoed applicant is not asked for what it may not do (001 六个不批(四))
        vetoes.waive(session, ob, c.campaign.township_id, ban, now)
        return False
    ob.status = ObligationStatus.OPEN
    ob.version += 1
    session.add(ob)
    if rule.form and ob.id not in known.drafts:
        session.add(Submission(
            campaign_id=c.campaign.id or 0, obligation_id=ob.id, stage_id=ob.stage_id,
            slot=f"obligation:{ob.id}:{ob.subject_id}", gate_key=gate_key, form_key=rule.form, title=ob.title,
            township_id=c.campaign.township_id, subject_id=ob.subject_id, data={}, created_by=None,
            created_at=now, updated_at=now,
        ))
    sections = [f.label for f in definition.form(rule.form).fields if f.required] if rule.form else []
    for user in known.people.get(c.campaign.township_id, []):
        if (ob.id or 0, REQUEST_OFFSET, user.id or 0) in known.logged:
            continue
        message = enqueue_mail(session, key=f"request:{ob.id}:{user.id}", to=user, template="obligation_opened",
                               context=_item(c, today) | {"sections": sections}, now=now)
        session.flush()
        session.add(ReminderLog(obligation_id=ob.id or 0, offset=REQUEST_OFFSET, user_id=user.id or 0, remind_on=today,
                                outbox_id=message.id if message else None, created_at=now))
    return True


class _Versions:
    """The definition versions one tick meets, each looked up once: with no version published in the database
    (the usual case) every lookup is a query that finds nothing, and a tick meets thousands of deadlines."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.known: dict[tuple[str, int], Definition] = {}

    def __call__(self, key: str, version: int) -> Definition:
        definition = self.known.get((key, version))
        if definition is None:
            definition = self.known[(key, version)] = definition_version(key, version, self.session)
        return definition


def _due_reminders(deadlines: Iterable[_Due], definition: _Versions, today: dt.date,
                   calendar: WorkCalendar) -> list[tuple[_Due, int, dt.date]]:
    """(deadline, offset, day) of the latest reminder whose day has come, for each deadline that has one."""
    due: list[tuple[_Due, int, dt.date]] = []
    latest: dict[tuple[dt.date, tuple[int, ...], str], tuple[int, dt.date] | None] = {}  # many deadlines share a day
    for ob in deadlines:
        rules = definition(ob.definition_key, ob.definition_version)
        spec = rules.obligation(ob.rule_key).reminders or rules.reminders
        memo = (ob.due_on, tuple(spec.offsets), str(spec.unit))
        if memo not in latest:
            passed = [(off, day) for off, day in reminder_dates(ob.due_on, spec.offsets, spec.unit, calendar) if day <= today]
            latest[memo] = passed[-1] if passed else None
        reminder = latest[memo]
        if reminder is not None:
            due.append((ob, *reminder))
    return due


def enqueue_reminders(session: Session, now: dt.datetime, calendar: WorkCalendar | None = None) -> int:
    """Send, once, the latest reminder whose day has come for each open deadline still ahead.

    After downtime only the most recent missed offset is sent (never a burst of stale ones), and
    nothing is sent for a deadline already past: escalation takes over there.
    """
    today = china_date(now)
    last = today + dt.timedelta(days=HORIZON_DAYS)
    definition = _Versions(session)
    due = _due_reminders(_open_deadlines(session, today, last), definition, today,
                         calendar or load_work_calendar(session))
    if not due:
        return 0
    ids = [ob.id for ob, _, _ in due]
    logged = _logged_between(session, today, last)
    drafts = _draft_data(session, ids)
    people = _submitters(session, {ob.township_id for ob, _, _ in due})
    link = absolute_url("/todos")
    # All mails go to the outbox in one batch (one lookup of existing keys, multi-row inserts, one
    # rendering per deadline shared by its recipients), then the log rows with their mails' ids.
    requests: list[MailRequest] = []
    logs: list[dict[str, Any]] = []
    for ob, offset, day in due:
        context: dict[str, Any] | None = None
        for user in people.get(ob.township_id, []):
            if (ob.id, offset, user.id or 0) in logged:
                continue
            key = None
            if not user.daily_digest:
                if context is None:
                    context = {
                        "title": ob.title, "township": ob.township, "subject_unit": ob.subject_unit,
                        "period": ob.period, "due_date": ob.due_on, "days_left": (ob.due_on - today).days,
                        "link": link, "missing": _missing(definition(ob.definition_key, ob.definition_version),
                                                          ob.rule_key, drafts.get(ob.id)),
                    }
                key = f"reminder:{ob.id}:{offset}:{user.id}"
                requests.append(MailRequest(key=key, to=user, template="reminder", context=context))
            logs.append({"obligation_id": ob.id, "offset": offset, "user_id": user.id or 0,
                         "remind_on": day, "outbox_id": key, "created_at": now})
    if not logs:
        return 0
    outbox_ids = enqueue_mails(session, requests, now=now)
    for row in logs:
        row["outbox_id"] = outbox_ids.get(row["outbox_id"]) if row["outbox_id"] else None
    connection = session.connection()
    for start in range(0, len(logs), _INSERT_CHUNK):
        connection.execute(insert(_reminder_log), logs[start:start + _INSERT_CHUNK])
    return len(logs)


# The offset as a literal, so the statement names the predicate of ``ix_reminder_log_waiting`` word for word and
# the planners read only the waiting rows (a bound parameter hides it from a generic plan).
_WAITING = select(ReminderLog).where(
    col(ReminderLog.outbox_id).is_(None), col(ReminderLog.offset) != literal(REQUEST_OFFSET, literal_execute=True))


def build_digests(session: Session, now: dt.datetime, digest_hour: int = 8) -> int:
    """Once a day (from ``digest_hour`` local time) gather each digest reader's waiting reminders into one mail."""
    moment = local(now)
    if moment.hour < digest_hour:
        return 0
    today = moment.date()
    waiting = session.exec(_WAITING).all()
    by_user: dict[int, list[ReminderLog]] = defaultdict(list)
    for row in waiting:
        by_user[row.user_id].append(row)
    # The obligations still open, looked up once for every waiting reminder.
    ids = list({row.obligation_id for row in waiting})
    still_open = {c.obligation.id: c for c in _candidates(session, [ObligationStatus.OPEN], [col(Obligation.id).in_(ids)])} if ids else {}
    made = 0
    for user_id, rows in by_user.items():
        user = session.get(User, user_id)
        if user is None:
            continue
        key = f"digest:{user_id}:{today.isoformat()}"
        items = [_item(still_open[row.obligation_id], today) for row in rows
                 if row.obligation_id in still_open and still_open[row.obligation_id].obligation.due_on >= today]
        message = enqueue_mail(session, key=key, to=user, template="daily_digest",
                               context={"items": sorted(items, key=lambda i: i["due_date"]), "digest_date": today}, now=now) if items else None
        session.flush()
        if items and message is not None and message.created_at != now:
            continue  # today's digest went out already: these wait for tomorrow's
        for row in rows:
            row.outbox_id = message.id if message else 0
            session.add(row)
        made += 1 if message else 0
    return made


def climb_ladder(session: Session, now: dt.datetime, calendar: WorkCalendar | None = None) -> int:
    """Climb every time-based trigger (``tasks.triggers``: missed deadlines, overdue rectification measures)
    up its escalation ladders; returns the number of levels recorded."""
    calendar = calendar or load_work_calendar(session)
    return sum(trigger.climb(session, now, calendar) for trigger in triggers.time_based())


# ---- the tick, once ---------------------------------------------------------------------------------------
# The step bodies below look their functions up when they run (not when TICK is built), so that a test that
# wraps ``tasks.tick.open_obligations`` (the kill points) or ``tasks.review.close_notice_periods`` wraps the
# step the tick runs.

StepResult = dict[str, int] | int


@dataclass(frozen=True)
class TickStep:
    """One step: ``run(session, now)`` returns a count (recorded under ``count``) or a dict of counts."""

    name: str
    run: Callable[[Session, dt.datetime], StepResult]
    count: str | None = None


@dataclass(frozen=True)
class TickTransaction:
    """Steps that commit together; ``name`` is the Prefect task that runs them."""

    name: str
    steps: tuple[TickStep, ...]


def _advance_stages(session: Session, now: dt.datetime) -> StepResult:
    return advance_stages(session, china_date(now))


def _mark_missed(session: Session, now: dt.datetime) -> StepResult:
    return mark_missed(session, china_date(now))


def _climb_ladder(session: Session, now: dt.datetime) -> StepResult:
    return climb_ladder(session, now)


def _close_notice_periods(session: Session, now: dt.datetime) -> StepResult:
    from tasks import review

    return review.close_notice_periods(session, now)


def _open_obligations(session: Session, now: dt.datetime) -> StepResult:
    return open_obligations(session, now)


def _enqueue_reminders(session: Session, now: dt.datetime) -> StepResult:
    return enqueue_reminders(session, now)


def _build_digests(session: Session, now: dt.datetime) -> StepResult:
    return build_digests(session, now, get_settings().digest_hour)


def _sign_for_opened(session: Session, now: dt.datetime) -> StepResult:
    from tasks import desk

    return desk.sign_for_opened(session, now)


def _draft_bulletins(session: Session, now: dt.datetime) -> StepResult:
    from tasks import desk

    return desk.draft_bulletins(session, now)


TICK: tuple[TickTransaction, ...] = (
    TickTransaction("advance_calendar", (
        TickStep("advance_stages", _advance_stages),
        TickStep("mark_missed", _mark_missed, "obligations_missed"),
        TickStep("climb_ladder", _climb_ladder, "escalations"),
        TickStep("close_notice_periods", _close_notice_periods, "stages_passed_after_notice"),
    )),
    TickTransaction("open_reporting_windows", (TickStep("open_obligations", _open_obligations, "windows_opened"),)),
    TickTransaction("enqueue_reminders", (TickStep("enqueue_reminders", _enqueue_reminders, "reminders"),)),
    TickTransaction("build_digests", (TickStep("build_digests", _build_digests, "digests"),)),
    TickTransaction("desk", (TickStep("sign_for_opened", _sign_for_opened, "sign_for_opened"),
                             TickStep("draft_bulletins", _draft_bulletins, "bulletins_drafted"))),
)
"""The tick: each transaction commits on its own, in this order (a crash between two loses nothing: the next
tick redoes what the missing ones would have done)."""


def run_transaction(session: Session, transaction: TickTransaction, now: dt.datetime,
                    on_step: Callable[[TickStep, StepResult], None] | None = None) -> dict[str, int]:
    """Run one transaction's steps in ``session`` (the caller commits); returns their counts. A transaction that
    did something is an audit event of ``system:tick`` with its counts, in the same transaction."""
    counts: dict[str, int] = {}
    for step in transaction.steps:
        started = time.perf_counter()
        result = step.run(session, now)
        metrics.TICK_STEP_SECONDS.labels(step.name).observe(time.perf_counter() - started)
        if isinstance(result, dict):
            counts.update(result)
        else:
            counts[step.count or step.name] = int(result)
        if on_step is not None:
            on_step(step, result)
    if any(counts.values()):
        record(session, TICK_ACTOR, f"tick.{transaction.name}", ("tick", 0), now=now, after=counts)
    for name, count in counts.items():
        metrics.TICK_COUNTS.labels(name).inc(count)
    metrics.TICK_LAST_RUN.set(now.timestamp())
    return counts


def run_tick(engine: Engine, now: dt.datetime, *, transactions: Iterable[TickTransaction] = TICK,
             on_step: Callable[[TickStep, StepResult], None] | None = None) -> dict[str, int]:
    """The whole tick without Prefect (simulation, benchmarks, tests): each transaction of ``TICK`` in its own
    session, committed before the next one starts. ``transactions`` may be a prefix (a tick cut short)."""
    counts: dict[str, int] = {}
    for transaction in transactions:
        with session_scope(engine) as session:
            counts.update(run_transaction(session, transaction, now, on_step))
    return counts
