"""The escalation engine's shared machinery: a step up the definition's ladder (催办 → 督办 → 约谈 → 通报 →
问责) recorded with its audit event, official document, accountability case and mails; the work arriving
(resolve); and what the county does with a step (interview, confirm, dismiss).

What opens a step is a trigger, one module each under ``tasks/triggers/`` (declared in
``domain.triggers``). Every step is one Escalation row whose ``key`` names its cause, written in the same
transaction as its audit event, its official document and its mails, so a re-run tick, a crash or a second
process never records a step twice. Sources: 000_a28a7778217e042c.txt §四(三) (问责 for unverified and zero
reports), 004_7c184efb1f3c43f7.txt §一.3 (督促检查通报, 约谈, 追究责任), 003_0d1c8490fe7db56e.txt
(rating consequences).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import func, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.clock import china_date
from core.settings import get_settings
from domain.calendar import WorkCalendar
from domain.definitions import Definition, EscalationLevel
from domain.errors import Conflict, PermissionDenied, ValidationFailed
from domain.triggers import TRIGGER_LABELS, TRIGGERS, case_mail_key, escalation_key, escalation_mail_key
from domain.vocabulary import EscalationStatus, zh_date
from models import (
    AccountabilityCase,
    Campaign,
    Escalation,
    Obligation,
    OfficialDocument,
    OrgUnit,
    OutboxMessage,
    ReminderLog,
    Submission,
    User,
)
from notifications.documents import document_number, render_document
from notifications.outbox import absolute_url, enqueue_mail
from tasks.accounts import Principal
from tasks.audit import SYSTEM_ACTOR, append_event, jsonable
from tasks.calendar import load_work_calendar
from tasks.locking import Audit, require_version, save_versioned
from tasks.registry import definition_of
from tasks.scope import visible

X = TypeVar("X")
DOCUMENT_LOCK_KEY = 0x6475_6261_6E02  # pg_advisory_xact_lock key: one document number at a time
LIVE = ("open", "escalated")  # steps still in force (the frontier and the levels below it)


# ---- recipients ----------------------------------------------------------------------------------


def ladder_recipients(users: Sequence[User], roles: set[str], township_id: int) -> list[User]:
    """Users a ladder level names: township roles for this township, county roles county-wide."""
    out = []
    for u in users:
        township_user = u.org_unit_id == township_id
        if (("submitter" in roles and u.role == "submitter" and township_user)
                or (roles & {"township_secretary", "township_leader"} and u.role == "reviewer"
                    and u.level == "township" and township_user)
                or ("admin" in roles and u.role == "admin")
                or (roles & {"reviewer", "county_leader"} and u.role == "reviewer" and u.level == "county")
                or ("county_leader" in roles and u.role == "observer")):
            out.append(u)
    return out


def active_users(session: Session) -> list[User]:
    """Everyone who may receive a step's mails or be named in a case."""
    return list(session.exec(select(User).where(User.active == True)))  # noqa: E712


# ---- one step --------------------------------------------------------------------------------------


@dataclass
class Step:
    """What an escalation step is about, before it is written."""

    campaign: Campaign
    township: OrgUnit
    trigger: str
    level: int
    key: str
    reason: str
    item_title: str
    subject: OrgUnit | None = None
    obligation: Obligation | None = None
    submission_id: int | None = None
    rectification_id: int | None = None
    due_on: dt.date | None = None
    period: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    new_due_on: dt.date | None = None  # the step's own deadline (default: the level's new_deadline_workdays)


def _days_late(due_on: dt.date | None, today: dt.date) -> int | None:
    return (today - due_on).days if due_on else None


def record_step(session: Session, definition: Definition, step: Step, now: dt.datetime, *,
                calendar: WorkCalendar, users: Sequence[User], actor: Principal | None = None,
                notify: bool = True, documents: bool = True, history: Sequence[Escalation] = ()) -> Escalation:
    """Write one escalation step with its audit event, document, case and mails (no commit).

    Raises IntegrityError when the step (its ``key``) was recorded already.
    """
    today = china_date(now)
    level = definition.escalation.ladder[step.level - 1]
    new_due_on = step.new_due_on or (
        calendar.add_workdays(today, level.new_deadline_workdays) if level.new_deadline_workdays else None)
    days_late = _days_late(step.due_on, today)
    reason = step.reason + (f"，限于{zh_date(new_due_on)}前办结" if new_due_on else "")
    esc = Escalation(
        key=step.key, campaign_id=step.campaign.id or 0, township_id=step.township.id or 0,
        obligation_id=step.obligation.id if step.obligation else None, submission_id=step.submission_id,
        subject_id=step.subject.id if step.subject else None, rectification_id=step.rectification_id,
        trigger=step.trigger, level=step.level, level_key=level.key, level_name=level.name, reason=reason[:2000],
        evidence=jsonable(step.evidence) or {}, status="open", due_on=step.due_on, new_due_on=new_due_on,
        created_at=now,
    )
    session.add(esc)
    session.flush()
    document = None
    if documents and level.document:
        document = issue_document(session, level, step, esc, today, now, history=history, days_late=days_late)
        esc.document_id = document.id
    append_event(session, actor_id=actor.user.id if actor else None, actor=actor.user.username if actor else SYSTEM_ACTOR,
                 action="escalation.open", subject_type="escalation", subject_id=esc.id or 0,
                 township_id=esc.township_id, before=None,
                 after={"key": esc.key, "trigger": esc.trigger, "level": esc.level, "level_key": esc.level_key,
                        "reason": esc.reason, "document": document.doc_number if document else None,
                        "new_due_on": new_due_on, "evidence": esc.evidence}, now=now)
    case = None
    if level.opens_case and TRIGGERS[step.trigger].climbs:  # the others' cases wait for the county's check
        case = open_case(session, esc, now, users=users, actor=actor)
    if notify:
        _mail_step(session, step, esc, level, document, case is not None, definition, users, today, now)
    return esc


def awaits_check(esc: Escalation, level: EscalationLevel) -> bool:
    """A step at a level that opens a case, of a trigger whose case waits for the county's check (经县委组织部
    检查核实, 000 §四(三)): nothing is answered for until an administrator confirms it."""
    return level.opens_case and not TRIGGERS[esc.trigger].climbs


def _mail_context(esc: Escalation, level: EscalationLevel, definition: Definition, *, title: str, township: str,
                  subject_unit: str | None, period: str | None, today: dt.date,
                  document: OfficialDocument | None = None, case_opened: bool = False,
                  confirmed: bool = False) -> dict[str, Any]:
    """What a step's mails say (template ``escalation`` or ``escalation_trigger``); ``confirmed``: the case was
    opened by the county's confirmation."""
    ladder = definition.escalation.ladder
    following = ladder[esc.level] if esc.level < len(ladder) else None
    return {
        "title": title, "township": township, "subject_unit": subject_unit or township, "period": period,
        "due_date": esc.due_on, "today": today, "days_late": _days_late(esc.due_on, today),
        "level": esc.level, "level_name": level.name, "next_level_name": following.name if following else None,
        "trigger": esc.trigger, "trigger_label": TRIGGER_LABELS.get(esc.trigger, esc.trigger), "reason": esc.reason,
        "findings": list((esc.evidence or {}).get("findings", [])), "new_due_on": esc.new_due_on,
        "document_number": document.doc_number if document else None, "case_opened": case_opened,
        "confirmed": confirmed, "awaiting_check": awaits_check(esc, level) and not case_opened,
        "link": absolute_url(TRIGGERS[esc.trigger].link.format(id=esc.id)),
    }


def _mail_step(session: Session, step: Step, esc: Escalation, level: EscalationLevel, document: OfficialDocument | None,
               case_opened: bool, definition: Definition, users: Sequence[User], today: dt.date, now: dt.datetime) -> None:
    """Mail the step to the roles its level names; a step waiting for the county's check goes to the county's
    administrators only, who check it (nobody is told of 问责 before the county confirms it)."""
    context = _mail_context(esc, level, definition, title=step.item_title, township=step.township.name,
                            subject_unit=step.subject.name if step.subject else None, period=step.period, today=today,
                            document=document, case_opened=case_opened)
    roles: set[str] = {"admin"} if context["awaiting_check"] else {r.role for r in level.recipients}
    for user in ladder_recipients(users, roles, esc.township_id):
        message = enqueue_mail(session, key=escalation_mail_key(step.key, user.id or 0), to=user,
                               template=TRIGGERS[esc.trigger].mail_template, context=context, now=now)
        if message is not None and document is not None:
            message.document_id = document.id


def _item_title(session: Session, esc: Escalation, subject: OrgUnit | None) -> str:
    """What a step is about, as its mails name it: the report, the deadline, or the village's measures."""
    sub = session.get(Submission, esc.submission_id) if esc.submission_id else None
    ob = session.get(Obligation, esc.obligation_id) if esc.obligation_id else None
    if esc.rectification_id and subject is not None:
        return f"{subject.name}整顿措施落实"
    return sub.title if sub else ob.title if ob else esc.level_name or esc.level_key


def _mail_case(session: Session, esc: Escalation, now: dt.datetime) -> None:
    """The county confirmed a step and opened its case: now, and only now, the roles of the step's level are
    mailed that the case is opened (问责)."""
    campaign = session.get(Campaign, esc.campaign_id)
    township = session.get(OrgUnit, esc.township_id)
    if campaign is None or township is None:
        return
    definition = definition_of(campaign)
    level = definition.escalation.ladder[esc.level - 1]
    subject = session.get(OrgUnit, esc.subject_id) if esc.subject_id else None
    ob = session.get(Obligation, esc.obligation_id) if esc.obligation_id else None
    context = _mail_context(esc, level, definition, title=_item_title(session, esc, subject), township=township.name,
                            subject_unit=subject.name if subject else None, period=ob.period if ob else None,
                            today=china_date(now), case_opened=True, confirmed=True)
    for user in ladder_recipients(active_users(session), {r.role for r in level.recipients}, esc.township_id):
        enqueue_mail(session, key=case_mail_key(esc.key or "", user.id or 0), to=user, template="escalation_trigger",
                     context=context, now=now)


# ---- official documents --------------------------------------------------------------------------


def issuer_name() -> str:
    name = get_settings().organisation_name
    return name if name.startswith("中共") else f"中共{name}"


def next_document_number(session: Session, year: int) -> int:
    """The next number of the year's official documents (the ladder's and the desk's share one series)."""
    return _next_number(session, year)


def _next_number(session: Session, year: int) -> int:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SELECT pg_advisory_xact_lock({DOCUMENT_LOCK_KEY})"))
    last = session.exec(select(func.max(OfficialDocument.number)).where(OfficialDocument.year == year)).one()
    return int(last or 0) + 1


def issue_document(session: Session, level: EscalationLevel, step: Step, esc: Escalation, today: dt.date,
                   now: dt.datetime, *, history: Sequence[Escalation] = (), days_late: int | None = None) -> OfficialDocument:
    """Render, number (per year, gap-free) and store the document a ladder level produces."""
    kind = level.document or ""
    number = _next_number(session, today.year)
    doc_number = document_number(get_settings().document_prefix, today.year, number)
    urged = next((h for h in history if h.level == 1), None)
    rendered = render_document(kind, doc_number=doc_number, issuer=issuer_name(), issued_on=today, context={
        "township": step.township.name, "item_title": step.item_title,
        "subject_unit": step.subject.name if step.subject else step.township.name, "period": step.period or "",
        "reason": esc.reason, "due_on": step.due_on, "days_late": days_late, "new_due_on": esc.new_due_on,
        "urged_on": china_date(urged.created_at) if urged else None,
        "history": [{"on": china_date(h.created_at), "name": h.level_name or h.level_key} for h in history],
    })
    doc = OfficialDocument(
        kind=kind, year=today.year, number=number, doc_number=doc_number, title=rendered.title[:300],
        issuer=rendered.issuer, addressee=rendered.addressee[:300], body=rendered.body, issued_on=today,
        html=rendered.html, pdf=rendered.pdf, sha256=hashlib.sha256(rendered.pdf).hexdigest(),
        escalation_id=esc.id, township_id=esc.township_id, created_at=now,
    )
    session.add(doc)
    session.flush()
    return doc


# ---- accountability cases ------------------------------------------------------------------------


def _target_persons(users: Sequence[User], township_id: int) -> list[dict[str, Any]]:
    """党委负责人及相关当事人 (000 §四(三)): the township's secretaries and its liaisons."""
    out = []
    for u in users:
        if u.org_unit_id != township_id or u.role not in ("reviewer", "submitter"):
            continue
        role = "乡（镇）党委负责人" if u.role == "reviewer" else "相关当事人（党建联络员）"
        out.append({"user_id": u.id, "name": u.display_name, "role": role})
    return sorted(out, key=lambda p: (p["role"] != "乡（镇）党委负责人", p["name"]))


def case_evidence(session: Session, esc: Escalation) -> dict[str, Any]:
    """The record behind a case: the deadline, what was submitted, the reminders sent, the steps taken."""
    evidence: dict[str, Any] = {"trigger": esc.trigger, "trigger_label": TRIGGER_LABELS.get(esc.trigger, esc.trigger),
                                "details": esc.evidence or {}}
    if esc.obligation_id:
        ob = session.get(Obligation, esc.obligation_id)
        if ob is not None:
            evidence["obligation"] = {"id": ob.id, "title": ob.title, "period": ob.period, "due_on": ob.due_on,
                                      "status": ob.status, "link": f"/api/v1/campaigns/{ob.campaign_id}"}
        reminders = session.exec(
            select(ReminderLog, OutboxMessage)
            .join(OutboxMessage, col(OutboxMessage.id) == ReminderLog.outbox_id, isouter=True)
            .where(ReminderLog.obligation_id == esc.obligation_id).order_by(col(ReminderLog.remind_on))
        ).all()
        evidence["reminders"] = [
            {"offset": r.offset, "remind_on": r.remind_on, "user_id": r.user_id,
             "kind": "opening_request" if r.offset < 0 else "reminder", "mail_status": m.status if m else "digest"}
            for r, m in reminders
        ]
        subs = session.exec(select(Submission).where(Submission.obligation_id == esc.obligation_id)).all()
    elif esc.submission_id:
        subs = session.exec(select(Submission).where(Submission.id == esc.submission_id)).all()
    else:
        subs = []
    evidence["submissions"] = [
        {"id": s.id, "status": s.status, "round": s.round, "returns": s.returns,
         "first_submitted_at": s.first_submitted_at, "link": f"/api/v1/submissions/{s.id}"} for s in subs
    ]
    where = [Escalation.campaign_id == esc.campaign_id, Escalation.trigger == esc.trigger]
    for column, value in ((Escalation.obligation_id, esc.obligation_id), (Escalation.submission_id, esc.submission_id),
                          (Escalation.rectification_id, esc.rectification_id)):
        if value is not None:
            where.append(column == value)
    steps = session.exec(select(Escalation).where(*where).order_by(col(Escalation.level), col(Escalation.id))).all()
    docs = {d.id: d.doc_number for d in session.exec(select(OfficialDocument).where(
        col(OfficialDocument.id).in_([s.document_id for s in steps if s.document_id])))} if steps else {}
    evidence["escalations"] = [
        {"id": s.id, "level": s.level, "level_name": s.level_name, "at": s.created_at, "status": s.status,
         "document": docs.get(s.document_id) if s.document_id else None, "link": f"/api/v1/escalations/{s.id}"}
        for s in steps
    ]
    return jsonable(evidence) or {}


def open_case(session: Session, esc: Escalation, now: dt.datetime, *, users: Sequence[User] | None = None,
              actor: Principal | None = None, note: str | None = None) -> AccountabilityCase:
    """Open the accountability case (问责) of an escalation step (one per step: a unique key)."""
    users = users if users is not None else active_users(session)
    township = session.get(OrgUnit, esc.township_id)
    case = AccountabilityCase(
        campaign_id=esc.campaign_id, township_id=esc.township_id, escalation_id=esc.id or 0,
        obligation_id=esc.obligation_id, trigger=esc.trigger, target_unit_id=esc.township_id,
        target_persons=_target_persons(users, esc.township_id),
        reason=(f"{township.name if township else ''}：{esc.reason}" + (f"。核实意见：{note}" if note else ""))[:4000],
        evidence=case_evidence(session, esc), status="open", opened_by=actor.user.id if actor else None,
        created_at=now,
    )
    session.add(case)
    session.flush()
    append_event(session, actor_id=actor.user.id if actor else None, actor=actor.user.username if actor else SYSTEM_ACTOR,
                 action="case.open", subject_type="accountability_case", subject_id=case.id or 0,
                 township_id=case.township_id, before=None,
                 after={"escalation_id": esc.id, "trigger": esc.trigger, "reason": case.reason,
                        "target_persons": case.target_persons}, now=now)
    return case


# ---- helpers of the triggers (tasks/triggers/) ----------------------------------------------------


def units_by_id(session: Session, ids: set[int]) -> dict[int, OrgUnit]:
    """The townships and villages of a climb, loaded at once."""
    return {u.id or 0: u for u in session.exec(select(OrgUnit).where(col(OrgUnit.id).in_(ids)))} if ids else {}


def mark_escalated(session: Session, where: list[Any], below: int) -> None:
    """The open steps below the level reached are superseded (已升级)."""
    session.execute(update(Escalation).where(*where, col(Escalation.status) == "open", col(Escalation.level) < below)
                    .values(status="escalated", version=Escalation.version + 1))


def climb_each(session: Session, subjects: Sequence[X], climb: Callable[[X], int]) -> int:
    """Climb each subject in its own savepoint: when a concurrent tick climbed it first, the unique key of
    the step says so and this tick skips it. Returns the number of levels recorded."""
    climbed = 0
    for subject in subjects:
        try:
            with session.begin_nested():
                climbed += climb(subject)
                session.flush()
        except IntegrityError:
            continue
    return climbed


def climb_levels(session: Session, definition: Definition, trigger: str, start: int, target: int,
                 step: Callable[[int], Step], history: list[Escalation], now: dt.datetime, *, calendar: WorkCalendar,
                 users: Sequence[User]) -> int:
    """Record the levels above ``start`` up to ``target`` (``step(level)`` says what each is about), appending
    them to ``history``; the levels below the one ``trigger`` opens at are skipped. Only the highest produces
    its document and mails (never a burst of stale ones after downtime). Returns the number of levels recorded."""
    first = max(start + 1, definition.escalation.level_index(trigger))
    for level in range(first, target + 1):
        top = level == target
        history.append(record_step(session, definition, step(level), now, calendar=calendar, users=users,
                                   notify=top, documents=top, history=history))
    return max(target - first + 1, 0)


def open_for_submission(session: Session, principal: Principal, definition: Definition, campaign: Campaign,
                        township: OrgUnit, sub: Submission, trigger: str, now: dt.datetime, *, reason: str,
                        evidence: dict[str, Any], level: int | None = None,
                        new_due_on: dt.date | None = None) -> Escalation:
    """The step a finding on a submitted report opens (once per round), at ``level`` (default: the trigger's)."""
    step = Step(campaign=campaign, township=township, trigger=trigger,
                level=level or definition.escalation.level_index(trigger),
                key=escalation_key(trigger, sub.id or 0, sub.round), item_title=sub.title,
                subject=session.get(OrgUnit, sub.subject_id), submission_id=sub.id, reason=reason,
                evidence=evidence | {"submission_id": sub.id}, new_due_on=new_due_on)
    existing = session.exec(select(Escalation).where(Escalation.key == step.key)).first()
    if existing is not None:
        return existing
    return record_step(session, definition, step, now, calendar=load_work_calendar(session),
                       users=active_users(session), actor=principal)


def mark_unverified(session: Session, principal: Principal, now: dt.datetime, sub: Submission, definition: Definition,
                    campaign: Campaign, comment: str) -> Escalation:
    """A county reviewer marks a report unverified: ``tasks.triggers.unverified.mark_unverified`` (kept here
    for the route that calls it by this name)."""
    from tasks.triggers.unverified import mark_unverified as mark  # the triggers build on this module

    return mark(session, principal, now, sub, definition, campaign, comment)


def resolve(session: Session, now: dt.datetime, *, trigger: str, what: str, obligation_id: int | None = None,
            rectification_id: int | None = None, submission_id: int | None = None) -> int:
    """The work arrived: the live steps of this deadline (or village, or report) stop, recording how late it was."""
    where: list[Any] = [col(Escalation.trigger) == trigger, col(Escalation.status).in_(LIVE)]
    if obligation_id is not None:
        where.append(col(Escalation.obligation_id) == obligation_id)
    elif rectification_id is not None:
        where.append(col(Escalation.rectification_id) == rectification_id)
    elif submission_id is not None:
        where.append(col(Escalation.submission_id) == submission_id)
    else:
        return 0
    today = china_date(now)
    rows = list(session.exec(select(Escalation).where(*where)))
    for esc in rows:
        late = (today - esc.due_on).days if esc.due_on else None
        before = {"status": esc.status}
        esc.status = "resolved"
        esc.resolved_at = now
        esc.days_late = late
        esc.resolution = f"已于{zh_date(today)}{what}" + (f"，超过期限{late}天" if late and late > 0 else "")
        esc.version += 1
        session.add(esc)
        append_event(session, actor_id=None, actor=SYSTEM_ACTOR, action="escalation.resolve", subject_type="escalation",
                     subject_id=esc.id or 0, township_id=esc.township_id, before=before,
                     after={"status": "resolved", "days_late": late, "resolution": esc.resolution}, now=now)
    return len(rows)


# ---- what the county does with a step -------------------------------------------------------------


def _county(principal: Principal) -> None:
    if principal.user.role != "admin":
        raise PermissionDenied("只有县委组织部管理员可以处理督办事项")


def load(session: Session, principal: Principal, escalation_id: int) -> Escalation:
    """The escalation if the caller may see its township; 404 otherwise (never 403)."""
    esc = session.get(Escalation, escalation_id)
    return visible(principal, esc, esc.township_id if esc else None, f"没有编号为 {escalation_id} 的督办事项")


WHAT = "督办事项"  # how a stale-version answer names an escalation


def _save(session: Session, principal: Principal, now: dt.datetime, esc: Escalation, version: int,
          values: dict[str, Any], *, action: str, before: dict[str, Any], after: dict[str, Any]) -> None:
    """Write the county's action and its audit event if the step is still at ``version``."""
    save_versioned(session, esc, version, values, what=WHAT, audit=Audit(
        principal, f"escalation.{action}", "escalation", esc.township_id, before, after, now))


def record_interview(session: Session, principal: Principal, now: dt.datetime, escalation_id: int, *,
                     interview_on: dt.date, place: str | None, outcome: str | None, version: int | None) -> Escalation:
    """约谈: schedule the interview of the township's main leader and record its outcome."""
    esc = load(session, principal, escalation_id)  # outside scope: 404 before anything else
    _county(principal)
    expected = require_version(esc, version, what=WHAT)
    campaign = session.get(Campaign, esc.campaign_id)
    ladder = definition_of(campaign).escalation.ladder if campaign else []
    level = ladder[esc.level - 1] if 0 < esc.level <= len(ladder) else None
    if level is None or (level.key != "interview" and level.document != "interview_notice"):
        raise Conflict(f"“{esc.level_name or esc.level_key}”不是约谈环节，不能登记约谈")
    if esc.status in ("dismissed",):
        raise Conflict("已撤销的督办事项不能登记约谈")
    created = china_date(esc.created_at)
    if interview_on < created:
        raise ValidationFailed(f"约谈日期不能早于约谈决定日期（{zh_date(created)}）",
                               errors=[{"field": "interview_on", "message": "too early"}])
    if outcome and interview_on > china_date(now):
        raise ValidationFailed("约谈尚未进行，不能登记结果", errors=[{"field": "outcome", "message": "interview in the future"}])
    before = {"interview_on": esc.interview_on, "interview_place": esc.interview_place, "interview_outcome": esc.interview_outcome}
    values = {"interview_on": interview_on, "interview_place": place, "interview_outcome": outcome}
    _save(session, principal, now, esc, expected, values, action="interview", before=before, after=values)
    return esc


def _county_decision(session: Session, principal: Principal, escalation_id: int, version: int | None, note: str,
                     *, refused: str, note_required: str) -> tuple[Escalation, int]:
    """What confirming and dismissing both check first: scope (404), the county's role, the version, a live
    escalation (``refused`` names the action in the 409) and a written note."""
    esc = load(session, principal, escalation_id)  # outside scope: 404 before anything else
    _county(principal)
    expected = require_version(esc, version, what=WHAT)
    if esc.status not in LIVE:
        raise Conflict(f"督办事项当前状态为“{EscalationStatus.label_of(esc.status)}”，{refused}")
    if not note.strip():
        raise ValidationFailed(note_required, errors=[{"field": "note", "message": "required"}])
    return esc, expected


def confirm(session: Session, principal: Principal, now: dt.datetime, escalation_id: int, *, note: str,
            version: int | None) -> AccountabilityCase:
    """The county checked and found the problem real (经县委组织部检查核实): open an accountability case."""
    esc, expected = _county_decision(session, principal, escalation_id, version, note,
                                     refused="不能立案问责", note_required="请填写核实情况")
    if session.exec(select(AccountabilityCase.id).where(AccountabilityCase.escalation_id == esc.id)).first() is not None:
        raise Conflict("该督办事项已立案问责")
    _save(session, principal, now, esc, expected, {"status": EscalationStatus.CONFIRMED, "decided_by": principal.user.id},
          action="confirm", before={"status": esc.status},
          after={"status": EscalationStatus.CONFIRMED, "note": note.strip()})
    case = open_case(session, esc, now, actor=principal, note=note.strip())
    _mail_case(session, esc, now)
    return case


def dismiss(session: Session, principal: Principal, now: dt.datetime, escalation_id: int, *, note: str,
            version: int | None) -> Escalation:
    """The county checked and found nothing to answer for (e.g. the township truly has no weak village)."""
    esc, expected = _county_decision(session, principal, escalation_id, version, note,
                                     refused="不能撤销", note_required="请说明撤销理由")
    _save(session, principal, now, esc, expected,
          {"status": EscalationStatus.DISMISSED, "decided_by": principal.user.id,
           "resolution": f"经核实撤销：{note.strip()}"[:2000], "resolved_at": now},
          action="dismiss", before={"status": esc.status},
          after={"status": EscalationStatus.DISMISSED, "note": note.strip()})
    return esc
