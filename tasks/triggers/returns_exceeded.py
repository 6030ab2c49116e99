"""多次退回 (004 §一.2, 退回1-2轮): a submission returned more often than its review policy allows. The step is
not mailed up the ladder: the administrators get a notice (template ``returns_exceeded``) instead.

Event-based: fired when a reviewer returns a submission (``Returned``, from ``tasks.review.decide``).
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from core.clock import china_date
from domain.triggers import RETURNS_EXCEEDED, escalation_mail_key
from models import Escalation, Obligation, OrgUnit, User
from notifications.outbox import absolute_url, enqueue_mail
from tasks import escalation
from tasks.calendar import load_work_calendar
from tasks.triggers.base import EventTrigger, register
from tasks.triggers.events import Returned


def fire(session: Session, event: Returned) -> Escalation | None:
    """One return too many opens an escalation, unless one is still live for this submission."""
    sub, definition = event.submission, event.definition
    if not event.exceeded:
        return None
    already = session.exec(select(Escalation.id).where(
        Escalation.submission_id == sub.id, Escalation.trigger == RETURNS_EXCEEDED.key,
        col(Escalation.status).in_(escalation.LIVE))).first()
    if already is not None:
        return None  # the live escalation stands; repeated returns do not open another
    level = definition.escalation.level_index(RETURNS_EXCEEDED.key)
    township = session.get(OrgUnit, sub.township_id)
    if township is None:
        return None
    step = escalation.Step(
        campaign=event.campaign, township=township, trigger=RETURNS_EXCEEDED.key, level=level,
        key=RETURNS_EXCEEDED.step_key(sub.id or 0, sub.returns), item_title=sub.title,
        subject=session.get(OrgUnit, sub.subject_id), submission_id=sub.id,
        obligation=session.get(Obligation, sub.obligation_id) if sub.obligation_id else None,
        reason=f"“{sub.title}”已被退回{sub.returns}次，超过规定的{event.max_returns}次，转为{definition.escalation.ladder[level - 1].name}",
        evidence={"returns": sub.returns, "max_returns": event.max_returns, "submission_id": sub.id},
    )
    esc = escalation.record_step(session, definition, step, event.now, calendar=load_work_calendar(session), users=[],
                                 actor=event.principal, notify=False, documents=False)
    _notify_administrators(session, step, event)
    return esc


def _notify_administrators(session: Session, step: escalation.Step, event: Returned) -> None:
    sub = event.submission
    context = {
        "title": sub.title, "township": step.township.name, "subject_unit": step.subject.name if step.subject else "",
        "round": sub.round, "due_date": step.obligation.due_on if step.obligation else None,
        "link": absolute_url(f"/submissions/{sub.id}"),
        "returns": sub.returns, "max_returns": event.max_returns, "decided_on": china_date(event.now),
    }
    for user in session.exec(select(User).where(User.role == "admin", User.active == True)):  # noqa: E712
        enqueue_mail(session, key=escalation_mail_key(step.key, user.id or 0), to=user, template=RETURNS_EXCEEDED.key,
                     context=context, now=event.now)


TRIGGER = register(EventTrigger(RETURNS_EXCEEDED, Returned, fire))
