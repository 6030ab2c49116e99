"""延期申请: before its deadline a township asks for more time (reason, progress, proposed date); its own reviewer
decides first, then the office within ``DUBAN_DESK_DECISION_WORKDAYS`` working days. An approval moves the
deadline of the 办结报告 (the reminders still to come count from the new date, the ladder waits for it); a
refusal keeps it. Every request and decision is audited; the ledger lists them (原定期限, 延期至, 理由, 批准人)."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, select

from core.clock import china_date
from domain import desk as rules
from domain.errors import InvalidTransition, PermissionDenied, ValidationFailed
from domain.review import may_submit
from domain.vocabulary import ExtensionStatus, ObligationStatus, zh_date
from models import Obligation, User
from models.desk import AssignedItem, ExtensionIn, ExtensionRequest, ItemRecipient
from notifications.outbox import absolute_url, enqueue_mail
from tasks.accounts import Principal
from tasks.calendar import load_work_calendar
from tasks.desk.items import desk_event, load_recipient
from tasks.desk.settings import desk_settings
from tasks.locking import Audit, require_version, save_versioned
from tasks.scope import visible

WHAT = "延期申请"
PENDING = (ExtensionStatus.PENDING_TOWNSHIP, ExtensionStatus.PENDING_COUNTY)


def _pending(session: Session, recipient_id: int) -> bool:
    return session.exec(select(ExtensionRequest.id).where(ExtensionRequest.recipient_id == recipient_id,
                                                          col(ExtensionRequest.status).in_(PENDING))).first() is not None


def request_extension(session: Session, principal: Principal, now: dt.datetime, recipient_id: int,
                      body: ExtensionIn) -> ExtensionRequest:
    """The township's submitter asks for more time; refused with the reason when the deadline has passed, the item
    is done, a request is pending or the item's extensions are used up."""
    recipient = load_recipient(session, principal, recipient_id)
    require_requester(principal, recipient)
    item = session.get(AssignedItem, recipient.item_id)
    closing = session.get(Obligation, recipient.obligation_id)
    assert item is not None and closing is not None
    today = china_date(now)
    problem = rules.extension_problem(
        today=today, due_on=closing.due_on, proposed_on=body.proposed_on, granted=recipient.extensions,
        allowed=item.max_extensions, pending=_pending(session, recipient.id or 0),
        done=closing.status in rules.DONE_STATUSES or closing.status == ObligationStatus.SUBMITTED)
    if problem is not None:
        raise ValidationFailed(problem, errors=[{"field": "proposed_on", "message": problem}])
    request = ExtensionRequest(
        recipient_id=recipient.id or 0, item_id=item.id or 0, township_id=recipient.township_id, reason=body.reason,
        progress=body.progress, proposed_on=body.proposed_on, original_due_on=closing.due_on,
        requested_by=principal.user.id or 0, requested_at=now)
    session.add(request)
    session.flush()
    desk_event(session, principal, "desk.extension.request", "extension_request", request.id or 0, request.township_id,
           None, {"item_id": item.id, "original_due_on": closing.due_on, "proposed_on": body.proposed_on,
                  "reason": body.reason, "progress": body.progress}, now)
    _notify(session, request, item, "township", now)
    return request


def require_requester(principal: Principal, recipient: ItemRecipient) -> None:
    """Only the township's own submitters ask for more time."""
    if not may_submit(principal.actor, recipient.township_id):
        raise PermissionDenied("只有本乡镇的填报人员可以申请延期")


def load_request(session: Session, principal: Principal, request_id: int) -> ExtensionRequest:
    request = session.get(ExtensionRequest, request_id)
    return visible(principal, request, request.township_id if request else None, f"没有编号为 {request_id} 的延期申请")


def require_decider(principal: Principal, request: ExtensionRequest) -> None:
    user = principal.user
    if request.status == ExtensionStatus.PENDING_TOWNSHIP:
        if not (user.role == "reviewer" and user.level == "township" and user.org_unit_id == request.township_id):
            raise PermissionDenied("延期申请须先由本乡镇党委审核人审核")
    elif request.status == ExtensionStatus.PENDING_COUNTY:
        if user.role != "admin":
            raise PermissionDenied("延期申请由县委组织部督查室（管理员）决定")
    else:
        raise InvalidTransition(f"该延期申请已{ExtensionStatus.label_of(request.status)}，不能再次决定")
    if user.id == request.requested_by:
        raise PermissionDenied("不能审核自己提交的延期申请")


def decide_extension(session: Session, principal: Principal, now: dt.datetime, request_id: int, *, decision: str,
                     comment: str | None, version: int | None) -> ExtensionRequest:
    """The township's reviewer passes the request on (or refuses it); the office approves (the deadline moves
    to the proposed date) or refuses (the deadline stays)."""
    request = load_request(session, principal, request_id)
    expected = require_version(request, version, what=WHAT)
    require_decider(principal, request)
    if decision == "refuse" and not (comment or "").strip():
        raise ValidationFailed("不予延期须写明理由", errors=[{"field": "comment", "message": "required"}])
    today = china_date(now)
    before = {"status": request.status}
    if request.status == ExtensionStatus.PENDING_TOWNSHIP:
        values = {"township_by": principal.user.id, "township_at": now, "comment": comment} | (
            {"status": ExtensionStatus.PENDING_COUNTY,
             "decide_by": load_work_calendar(session).add_workdays(today, desk_settings().decision_workdays)}
            if decision == "approve" else {"status": ExtensionStatus.REFUSED})
    else:
        values = {"decided_by": principal.user.id, "decided_at": now, "comment": comment,
                  "status": ExtensionStatus.APPROVED if decision == "approve" else ExtensionStatus.REFUSED}
    audit = Audit(principal, f"desk.extension.{decision}", "extension_request", request.township_id, before,
                  lambda: {"status": request.status, "proposed_on": request.proposed_on, "comment": comment}, now)
    save_versioned(session, request, expected, values, what=WHAT, audit=audit)
    if request.status == ExtensionStatus.APPROVED:
        _move_deadline(session, principal, request, now)
    item = session.get(AssignedItem, request.item_id)
    assert item is not None
    _notify(session, request, item, "county" if request.status == ExtensionStatus.PENDING_COUNTY else "submitter", now)
    return request


def _move_deadline(session: Session, principal: Principal, request: ExtensionRequest, now: dt.datetime) -> None:
    """The approved date becomes the 办结报告's deadline; a deadline that passed while the office decided opens
    again (its climb stops: the township asked in time)."""
    recipient = session.get(ItemRecipient, request.recipient_id)
    closing = session.get(Obligation, recipient.obligation_id) if recipient else None
    assert recipient is not None and closing is not None
    before = {"due_on": closing.due_on, "status": closing.status}
    closing.due_on = request.proposed_on
    if closing.status == ObligationStatus.MISSED and closing.due_on >= china_date(now):
        closing.status = ObligationStatus.OPEN
    closing.version += 1
    recipient.extensions += 1
    recipient.version += 1
    session.add_all([closing, recipient])
    desk_event(session, principal, "obligation.extended", "obligation", closing.id or 0, request.township_id, before,
           {"due_on": closing.due_on, "status": closing.status, "extension_request_id": request.id}, now)


def _notify(session: Session, request: ExtensionRequest, item: AssignedItem, to: str, now: dt.datetime) -> None:
    """Tell whoever acts next: the township's reviewers, the office, or the township's submitters the outcome."""
    if to == "township":
        where = [User.role == "reviewer", User.level == "township", User.org_unit_id == request.township_id]
        lines = [f"“{item.title}”的承办人申请延期至{zh_date(request.proposed_on)}（原定期限{zh_date(request.original_due_on)}）。",
                 f"理由：{request.reason}", "请登录督办系统审核。"]
    elif to == "county":
        where = [User.role == "admin"]
        lines = [f"“{item.title}”的延期申请已经乡镇党委审核同意，申请延期至{zh_date(request.proposed_on)}。",
                 f"请于{zh_date(request.decide_by)}前作出决定。"]
    else:
        where = [User.role == "submitter", User.org_unit_id == request.township_id]
        lines = [f"“{item.title}”的延期申请结果：{ExtensionStatus.label_of(request.status)}。",
                 f"办理期限：{zh_date(request.proposed_on if request.status == ExtensionStatus.APPROVED else request.original_due_on)}。"
                 + (f"意见：{request.comment}" if request.comment else "")]
    for user in session.exec(select(User).where(User.active == True, *where)):  # noqa: E712
        enqueue_mail(session, key=f"desk:extension:{request.id}:{request.status}:{user.id}", to=user,
                     template="desk_notice", context={"subject": f"【延期申请】{item.title}", "title": item.title, "lines": lines,
                                                      "link": absolute_url("/desk")}, now=now)
