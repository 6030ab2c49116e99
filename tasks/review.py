"""Submissions through their review chains. Each transition checks, changes, audits and notifies
in the caller's transaction; the caller commits once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import bindparam, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.clock import china_date
from domain import forms
from domain import review as rules
from domain.definitions import Definition, FieldType, Form, ReviewSpec
from domain.errors import Conflict, InvalidTransition, PermissionDenied, ValidationFailed
from domain.forms import FormContext, validate_form
from domain.vocabulary import ObligationStatus, StageStatus, SubmissionStatus, period_label, zh_date
from models import (
    Attachment,
    Campaign,
    Obligation,
    OrgUnit,
    Review,
    Stage,
    Submission,
    SubmissionRound,
    User,
    Veto,
)
from notifications.outbox import MailRequest, absolute_url, enqueue_mails
from tasks import gate_checks, triggers, vetoes, village_list
from tasks.accounts import Principal
from tasks.audit import SYSTEM_ACTOR, append_event, jsonable
from tasks.calendar import load_work_calendar
from tasks.locking import Audit, require_version, save_versioned
from tasks.registry import definition_of
from tasks.scope import visible, visible_campaign

SNAPSHOT_FIELDS = ("status", "current_level", "round", "returns", "version")
WHAT = "材料"  # how a stale-version answer names a submission

# Attachments: at most 10 MB, of these types, each starting with its type's signature (magic bytes).
MAX_ATTACHMENT = 10 * 1024 * 1024
ALLOWED_TYPES = {
    "application/pdf": b"%PDF",
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": b"PK",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": b"PK",
}


def _chain(spec: ReviewSpec) -> rules.ReviewChain:
    return rules.ReviewChain(
        levels=tuple(rules.ChainLevel(level=lv.level, name=lv.name, role=lv.role) for lv in spec.chain),
        max_returns=spec.max_return_rounds,
    )


def _state(sub: Submission) -> rules.SubmissionState:
    return rules.SubmissionState(
        status=sub.status, current_level=sub.current_level, round=sub.round, returns=sub.returns,
        township_id=sub.township_id, created_by=sub.created_by, submitted_by=sub.submitted_by,
    )


def _snapshot(sub: Submission) -> dict[str, Any]:
    return {k: getattr(sub, k) for k in SNAPSHOT_FIELDS}


def load_submission(session: Session, principal: Principal, submission_id: int) -> Submission:
    """The submission if it exists and the caller may see it; 404 otherwise (never 403)."""
    sub = session.get(Submission, submission_id)
    return visible(principal, sub, sub.township_id if sub else None, f"没有编号为 {submission_id} 的材料")


def load_obligation(session: Session, principal: Principal, obligation_id: int) -> tuple[Obligation, Campaign]:
    """The obligation and its campaign if the caller may see its township; 404 otherwise (never 403)."""
    obligation = session.get(Obligation, obligation_id)
    campaign = visible_campaign(session, principal, obligation, f"没有编号为 {obligation_id} 的截止事项")
    assert obligation is not None  # its campaign was found
    return obligation, campaign


def _load_at(session: Session, principal: Principal, submission_id: int, version: int | None) -> tuple[Submission, int]:
    """The submission (404 unless the caller may see it) and the version the caller decided on (422 when
    missing, 409 when stale)."""
    sub = load_submission(session, principal, submission_id)
    return sub, require_version(sub, version, what=WHAT)


# A submission's campaign, deadline and stage in one statement (each a LEFT JOIN on its id, NULL when it has none).
_CONTEXT = (select(Campaign, Obligation, Stage).select_from(Campaign)
            .outerjoin(Obligation, col(Obligation.id) == bindparam("obligation_id"))
            .outerjoin(Stage, col(Stage.id) == bindparam("stage_id"))
            .where(col(Campaign.id) == bindparam("campaign_id")))


def _context(session: Session, sub: Submission) -> tuple[Definition, Campaign, Obligation | None, Stage | None]:
    # The session's identity map holds rows weakly: a transition reads its context several times (checks,
    # validation, review rules, mail), and each read would select the rows again once the last one was dropped.
    # Kept for the session's life (one request or one transaction of the tick); read together the first time.
    held: dict[int | None, tuple[Campaign, Obligation | None, Stage | None]] = session.info.setdefault(_CONTEXT_ROWS, {})
    rows = held.get(sub.id)  # a submission's campaign, deadline and stage never change
    if rows is None:
        found = session.exec(_CONTEXT, params={
            "campaign_id": sub.campaign_id, "obligation_id": sub.obligation_id, "stage_id": sub.stage_id}).one()
        rows = held[sub.id] = (found[0], found[1], found[2])
    return definition_of(rows[0]), rows[0], rows[1], rows[2]


_CONTEXT_ROWS = "review_context_rows"


def review_spec(session: Session, sub: Submission) -> tuple[str | None, ReviewSpec]:
    definition, _, obligation, stage = _context(session, sub)
    return definition.review_for(obligation.rule_key if obligation else None, stage.key if stage else None, sub.form_key)


def _township_villages(session: Session, township_id: int) -> dict[str, int]:
    rows = session.exec(select(OrgUnit.code, OrgUnit.id).where(OrgUnit.parent_id == township_id, OrgUnit.kind == "village"))
    return {code: uid or 0 for code, uid in rows}


def _attachment_ids(session: Session, submission_id: int | None) -> set[int]:
    if submission_id is None:
        return set()
    return {a for a in session.exec(select(Attachment.id).where(Attachment.submission_id == submission_id)) if a}


_NAMES_VILLAGES = frozenset({FieldType.VILLAGES, FieldType.VILLAGE_NUMBERS})


def _validate(session: Session, sub: Submission, data: dict[str, Any], complete: bool) -> dict[str, Any]:
    definition, *_ = _context(session, sub)
    form = definition.form(sub.form_key)
    kinds = {f.type for f in form.fields}  # the township's villages and the attachments only for fields naming them
    return validate_form(
        form, data, complete=complete,
        villages=_township_villages(session, sub.township_id) if kinds & _NAMES_VILLAGES else {},
        attachments=_attachment_ids(session, sub.id) if FieldType.FILE in kinds else set(),
        context=form_context(session, form, sub.campaign_id, sub.subject_id),
    )


def form_context(session: Session, form: Form, campaign_id: int, subject_id: int,
                 others: Iterable[tuple[int, dict[str, Any]]] | None = None) -> FormContext | None:
    """What the content checks of ``form`` need (``domain.forms.FormContext``), for an answer about ``subject_id``:
    None for a form without any. ``others`` are the other villages' answers (village id, data); by default their
    live submissions of the form in the campaign."""
    fields = form.fields
    if not any(f.substantive or f.distinct_per_village or f.within_stage or f.names_subject for f in fields):
        return None
    if others is None:
        others = [(s.subject_id, s.data) for s in session.exec(select(Submission).where(
            Submission.campaign_id == campaign_id, Submission.form_key == form.key, Submission.subject_id != subject_id,
            Submission.status != SubmissionStatus.WITHDRAWN))]
    others = list(others)
    units = {u.id: u for u in session.exec(select(OrgUnit).where(col(OrgUnit.id).in_([subject_id] + [i for i, _ in others])))}
    subject = units.get(subject_id)
    stages = {s.key: forms.Stage(s.name, s.opens_on, s.closes_on)
              for s in session.exec(select(Stage).where(Stage.campaign_id == campaign_id))}
    return FormContext(
        subject=forms.Village(subject.code, subject.name) if subject and subject.kind == "village" else None,
        others=[(forms.Village(units[i].code, units[i].name), data) for i, data in others if i in units],
        stages=stages)


def _event(session: Session, principal: Principal | None, action: str, subject_type: str, subject_id: int,
           township_id: int, before: dict[str, Any] | None, after: dict[str, Any] | None, now: dt.datetime) -> None:
    """An audit event done by ``principal`` (None: by the system)."""
    append_event(session, actor_id=principal.user.id if principal else None,
                 actor=principal.user.username if principal else SYSTEM_ACTOR, action=action,
                 subject_type=subject_type, subject_id=subject_id, township_id=township_id,
                 before=jsonable(before), after=jsonable(after), now=now)


def _audit(principal: Principal, action: str, sub: Submission, before: dict[str, Any] | None, now: dt.datetime,
           extra: dict[str, Any] | None = None, *, with_data: bool = False) -> Audit:
    """The audit event of ``submission.<action>``: the snapshot before, and the snapshot once saved (with the
    saved data when ``with_data``) plus ``extra``."""

    def after() -> dict[str, Any]:
        return _snapshot(sub) | ({"data": sub.data} if with_data else {}) | (extra or {})

    return Audit(principal, f"submission.{action}", "submission", sub.township_id, before, after, now)


def _save(session: Session, sub: Submission, expected_version: int, changes: dict[str, Any], audit: Audit) -> None:
    """Write ``changes`` and their audit event only if nobody changed the submission since ``expected_version``."""
    save_versioned(session, sub, expected_version, changes, what=WHAT, audit=audit)


def _move_obligation(session: Session, sub: Submission, from_statuses: list[ObligationStatus], to: ObligationStatus) -> None:
    """The submission's deadline follows it (submitted ⇄ open), from the given statuses only."""
    if sub.obligation_id:
        session.execute(update(Obligation).where(col(Obligation.id) == sub.obligation_id,
                                                 col(Obligation.status).in_(from_statuses)).values(status=to))


REVISION_WORKDAYS = 5  # time to revise a returned submission when its deadline is about to pass or passed


def _allow_revision(session: Session, principal: Principal | None, sub: Submission, now: dt.datetime) -> None:
    """A submission first sent on time and returned gets time to be revised: a deadline closer than five
    working days (or past) moves to five working days from the return, so work sent on time is not counted
    missed because a reviewer returned it late. Work first sent late keeps its deadline and its escalation.
    ``nominal_due_on`` keeps the original date."""
    obligation = session.get(Obligation, sub.obligation_id) if sub.obligation_id else None
    if obligation is None or obligation.status != ObligationStatus.OPEN or sub.first_submitted_at is None:
        return
    if china_date(sub.first_submitted_at) > obligation.due_on:
        return
    revised = load_work_calendar(session).add_workdays(china_date(now), REVISION_WORKDAYS)
    if obligation.due_on >= revised:
        return
    before = {"due_on": obligation.due_on}
    obligation.due_on = revised
    obligation.version += 1
    session.add(obligation)
    _event(session, principal, "obligation.revision_due", "obligation", obligation.id or 0, sub.township_id,
           before, {"due_on": revised, "submission_id": sub.id}, now)


def _submitter(session: Session, sub: Submission) -> list[User]:
    """Who answers for the submission: its last submitter, or whoever started it."""
    user = session.get(User, sub.submitted_by or sub.created_by) if (sub.submitted_by or sub.created_by) else None
    return [user] if user else []


# ---- notifications ---------------------------------------------------------------------------------


def _users_who_decide(session: Session, level: rules.ChainLevel, township_id: int) -> list[User]:
    # The county's people and this township's reviewers (not every township's: a county of 1,000 townships has
    # 1,000 township reviewers), then the review rules decide.
    users = session.exec(select(User).where(
        User.active == True, col(User.role).in_(["admin", "reviewer"]),  # noqa: E712
        or_(col(User.role) == "admin", col(User.level) == "county", col(User.org_unit_id) == township_id)))
    out = []
    for user in users:
        actor = rules.Actor(id=user.id or 0, role=user.role, level=user.level,
                            township_id=user.org_unit_id if user.level != "county" else None)
        if rules.may_decide_at(actor, level, township_id):
            out.append(user)
    return out


def deciders(session: Session, sub: Submission) -> tuple[rules.ChainLevel, bool, list[User]]:
    """Where a submission in review waits: its chain level, whether that level is the chain's last, and who
    may decide there (the users its review notice goes to)."""
    _, spec = review_spec(session, sub)
    chain = _chain(spec)
    level = chain.levels[sub.current_level]
    return level, sub.current_level == len(chain.levels) - 1, _users_who_decide(session, level, sub.township_id)


def _mail_context(session: Session, sub: Submission, **extra: Any) -> dict[str, Any]:
    township = session.get(OrgUnit, sub.township_id)
    subject = session.get(OrgUnit, sub.subject_id)
    obligation = session.get(Obligation, sub.obligation_id) if sub.obligation_id else None
    return {
        "title": sub.title,
        "township": township.name if township else "",
        "subject_unit": subject.name if subject else "",
        "period": obligation.period if obligation else None,
        "round": sub.round,
        "due_date": obligation.due_on if obligation else None,
        "link": absolute_url(f"/submissions/{sub.id}"),
    } | extra


def _notify(session: Session, users: list[User], template: str, key: str, context: dict[str, Any], now: dt.datetime) -> None:
    # one batch: one look for keys already written, one rendering shared by the recipients, one multi-row insert
    enqueue_mails(session, [MailRequest(key=f"{key}:{user.id}", to=user, template=template, context=context)
                            for user in users], now=now)


# ---- creating and editing ---------------------------------------------------------------------------


def create_submission(
    session: Session, principal: Principal, now: dt.datetime, *, obligation_id: int, data: dict[str, Any],
    subject: str | None = None, submit: bool = False,
) -> Submission:
    """Start the answer to an obligation (a draft; ``submit=True`` sends it at once). ``subject`` is the code
    of the village it is about (omitted: the obligation's own subject). The draft the system opened with the
    reporting window is taken over; any other answer already there is a 409 naming it."""
    obligation, campaign, definition, _ = _obligation_to_answer(session, principal, obligation_id)
    subject_id = _subject_id(session, campaign, obligation, subject)
    # the ban first: a vetoed applicant hears why, not that its deadline was waived or its slot is taken
    vetoes.refuse_if_barred(session, definition, campaign, _draft_gate(session, definition, obligation), subject_id)
    if obligation.status == ObligationStatus.WAIVED:
        raise InvalidTransition("这个截止事项已标记为不适用，无需填报")
    slot = f"obligation:{obligation.id}:{subject_id}"
    sub = session.exec(select(Submission).where(Submission.campaign_id == campaign.id, Submission.slot == slot)).first()
    if sub is not None:
        _refuse_unless_opened_draft(sub)
        if submit:
            return _save_and_submit(session, principal, now, sub, data, sub.version, claim=True)
        sub = save_draft(session, principal, now, sub, data, sub.version, claim=True)
    else:
        sub = new_draft(session, principal, now, campaign=campaign, obligation=obligation, subject_id=subject_id,
                        data=data)
    if submit:
        submit_submission(session, principal, now, sub.id or 0, sub.version)
    return sub


def _obligation_to_answer(session: Session, principal: Principal,
                          obligation_id: int) -> tuple[Obligation, Campaign, Definition, str]:
    """The obligation with its campaign, definition and form, if the caller's township owes material for it."""
    obligation, campaign = load_obligation(session, principal, obligation_id)
    if not rules.may_submit(principal.actor, campaign.township_id):
        raise PermissionDenied("只有本乡镇的填报人员可以填报")
    definition = definition_of(campaign)
    form = _answer_form(definition, obligation)
    return obligation, campaign, definition, form


def _answer_form(definition: Definition, obligation: Obligation) -> str:
    """The form that answers ``obligation`` (an obligation without one needs no material)."""
    form = definition.obligation(obligation.rule_key).form
    if not form:
        raise InvalidTransition("这个截止事项不需要填报材料")
    return form


def _draft_gate(session: Session, definition: Definition, obligation: Obligation) -> str | None:
    """The gate an answer to ``obligation`` applies for (None: no gate)."""
    stage = session.get(Stage, obligation.stage_id) if obligation.stage_id else None
    gate_key, _ = definition.review_for(obligation.rule_key, stage.key if stage else None,
                                        _answer_form(definition, obligation))
    return gate_key


def _subject_id(session: Session, campaign: Campaign, obligation: Obligation, subject: str | None) -> int:
    """The unit the material is about: the village named by ``subject``, or the obligation's own subject."""
    if not subject:
        return obligation.subject_id
    villages = _township_villages(session, campaign.township_id)
    if subject not in villages:
        raise ValidationFailed(f"填报对象 {subject} 不是本乡镇的村", errors=[{"field": "subject", "message": "unknown village"}])
    if obligation.subject_id != campaign.township_id and villages[subject] != obligation.subject_id:
        owner = session.get(OrgUnit, obligation.subject_id)
        name = f"{owner.name}（{owner.code}）" if owner else ""
        raise ValidationFailed(f"这个截止事项是{name}的，只能填报该村的材料；其他村请在各自的截止事项下填报",
                               errors=[{"field": "subject", "message": "not the obligation's village"}])
    return villages[subject]


def _refuse_if_barred(session: Session, sub: Submission) -> None:
    """A one-vote veto bars the applicant from this gate's applications on every path (``tasks.vetoes``)."""
    if sub.gate_key:
        definition, campaign, _, _ = _context(session, sub)
        vetoes.refuse_if_barred(session, definition, campaign, sub.gate_key, sub.subject_id)


def _refuse_before_window(session: Session, sub: Submission, now: dt.datetime) -> None:
    """A report is submitted in its window, not months before it opens (a draft may be saved any time): the
    refusal names the day the window opens. A gate's material (a list, a plan, an application) follows the
    order of its stages instead (``domain.gate_checks``): a plan may go in as soon as the list has passed."""
    if sub.gate_key:
        return
    obligation = session.get(Obligation, sub.obligation_id) if sub.obligation_id else None
    if obligation is not None and china_date(now) < obligation.opens_on:
        raise InvalidTransition(
            f"“{sub.title}”（{period_label(obligation.period)}）{zh_date(obligation.opens_on)}起才能提交；"
            "现在可以先保存草稿，届时再提交审核",
            errors=[{"field": "submit", "message": "window_not_open"}], opens_on=obligation.opens_on.isoformat())


def _refuse_unless_opened_draft(sub: Submission) -> None:
    """Only the draft the system opened with the reporting window may be taken over; any other answer already
    in the slot is a conflict naming it."""
    if sub.status != SubmissionStatus.DRAFT or sub.created_by is not None:
        raise Conflict(f"这一事项已经有一份材料（编号 {sub.id}），请在原材料上修改",
                       errors=[{"field": "obligation_id", "message": "exists"}], submission_id=sub.id)


def new_draft(session: Session, principal: Principal, now: dt.datetime, *, campaign: Campaign, obligation: Obligation,
              subject_id: int, data: dict[str, Any], note: dict[str, Any] | None = None) -> Submission:
    """Write the draft answering ``obligation`` for ``subject_id`` (its data validated, not yet complete),
    audited as ``submission.create`` with ``note`` (e.g. the file it came from). A draft someone created
    meanwhile is a 409. The caller has checked who may: :func:`create_submission` for the API, the
    一村一策 import for its rows."""
    definition = definition_of(campaign)
    gate_key = _draft_gate(session, definition, obligation)
    vetoes.refuse_if_barred(session, definition, campaign, gate_key, subject_id)
    sub = Submission(
        campaign_id=campaign.id or 0, obligation_id=obligation.id, stage_id=obligation.stage_id,
        slot=f"obligation:{obligation.id}:{subject_id}", gate_key=gate_key,
        form_key=_answer_form(definition, obligation), title=obligation.title,
        township_id=campaign.township_id, subject_id=subject_id, data={}, created_by=principal.user.id or 0,
        created_at=now, updated_at=now,
    )
    sub.data = _validate(session, sub, data, complete=False)
    session.add(sub)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict("这一事项已经有一份材料（刚刚由他人创建），请刷新后在原材料上修改",
                       errors=[{"field": "obligation_id", "message": "exists"}]) from None
    _event(session, principal, "submission.create", "submission", sub.id or 0, sub.township_id, None,
           _snapshot(sub) | {"data": sub.data} | (note or {}), now)
    return sub


def save_draft(session: Session, principal: Principal, now: dt.datetime, sub: Submission, data: dict[str, Any],
               version: int, *, claim: bool = False, note: dict[str, Any] | None = None) -> Submission:
    """Replace an editable draft's data (validated, not yet complete) if nobody changed it since ``version``,
    audited as ``submission.update`` with ``note``; ``claim`` makes the caller the author of a draft the
    system opened. The caller has checked who may (see :func:`new_draft`)."""
    if sub.status not in rules.EDITABLE:
        raise InvalidTransition("只有草稿或被退回的材料可以修改")
    _refuse_if_barred(session, sub)
    cleaned = _validate(session, sub, data, complete=False)
    before = _snapshot(sub) | {"data": sub.data}
    changes: dict[str, Any] = {"data": cleaned, "updated_at": now}
    if claim and sub.created_by is None:
        changes["created_by"] = principal.user.id
    _save(session, sub, version, changes, _audit(principal, "update", sub, before, now, note, with_data=True))
    return sub


def update_draft(session: Session, principal: Principal, now: dt.datetime, submission_id: int, data: dict[str, Any],
                 version: int | None) -> Submission:
    sub, expected = _load_at(session, principal, submission_id, version)
    if not rules.may_submit(principal.actor, sub.township_id):
        raise PermissionDenied("只有本乡镇的填报人员可以修改")
    return save_draft(session, principal, now, sub, data, expected)


def add_attachment(session: Session, principal: Principal, now: dt.datetime, submission_id: int, *, filename: str,
                   content_type: str, content: bytes) -> Attachment:
    import hashlib

    sub = load_submission(session, principal, submission_id)
    if not rules.may_submit(principal.actor, sub.township_id):
        raise PermissionDenied("只有本乡镇的填报人员可以上传附件")
    if sub.status not in rules.EDITABLE:
        raise InvalidTransition("只有草稿或被退回的材料可以上传附件")
    attachment = Attachment(
        submission_id=sub.id or 0, filename=filename, content_type=content_type, size=len(content),
        sha256=hashlib.sha256(content).hexdigest(), content=content, uploaded_by=principal.user.id or 0, uploaded_at=now,
    )
    session.add(attachment)
    session.flush()
    _event(session, principal, "attachment.add", "submission", sub.id or 0, sub.township_id, None,
           {"attachment_id": attachment.id, "filename": filename, "size": len(content), "sha256": attachment.sha256}, now)
    return attachment


# ---- transitions -------------------------------------------------------------------------------------


def submit_submission(session: Session, principal: Principal, now: dt.datetime, submission_id: int,
                      version: int | None) -> Submission:
    sub, expected = _load_at(session, principal, submission_id, version)
    rules.submit(_state(sub), principal.actor)
    _refuse_if_barred(session, sub)
    _refuse_before_window(session, sub, now)
    return submit_checked(session, principal, now, sub, expected, _validate(session, sub, sub.data, complete=True))


def save_and_submit(session: Session, principal: Principal, now: dt.datetime, submission_id: int, data: dict[str, Any],
                    version: int | None) -> Submission:
    """Save ``data`` into an editable draft and submit it (the form's 提交 after editing): what :func:`update_draft`
    and then :func:`submit_submission` do in one transaction, audited the same way (the update with its data, then
    the submit), with every check made before anything is written and the data validated once, as a complete
    answer (a draft's validation only leaves out the checks of a complete one)."""
    sub, expected = _load_at(session, principal, submission_id, version)
    if not rules.may_submit(principal.actor, sub.township_id):
        raise PermissionDenied("只有本乡镇的填报人员可以修改")
    if sub.status not in rules.EDITABLE:
        raise InvalidTransition("只有草稿或被退回的材料可以修改")
    return _save_and_submit(session, principal, now, sub, data, expected)


def _save_and_submit(session: Session, principal: Principal, now: dt.datetime, sub: Submission, data: dict[str, Any],
                     expected: int, *, claim: bool = False) -> Submission:
    rules.submit(_state(sub), principal.actor)  # refused before the draft is touched
    _refuse_if_barred(session, sub)
    _refuse_before_window(session, sub, now)
    cleaned = _validate(session, sub, data, complete=True)
    before = _snapshot(sub) | {"data": sub.data}
    changes: dict[str, Any] = {"data": cleaned, "updated_at": now}
    if claim and sub.created_by is None:
        changes["created_by"] = principal.user.id
    _save(session, sub, expected, changes, _audit(principal, "update", sub, before, now, with_data=True))
    return submit_checked(session, principal, now, sub, sub.version, cleaned)


def submit_checked(session: Session, principal: Principal, now: dt.datetime, sub: Submission, expected: int,
                   data: dict[str, Any]) -> Submission:
    """Submit ``sub`` (checked by the caller: :func:`submit_submission`, :func:`save_and_submit`) with its ``data``
    validated as a complete answer; publishes :class:`tasks.triggers.Submitted`."""
    outcome = rules.submit(_state(sub), principal.actor)
    _, spec = review_spec(session, sub)
    before = _snapshot(sub)
    new = outcome.state
    _save(session, sub, expected, {
        "status": new.status, "current_level": new.current_level, "round": new.round, "data": data,
        "submitted_by": new.submitted_by, "submitted_at": now, "updated_at": now,
        "first_submitted_at": sub.first_submitted_at or now,
    }, _audit(principal, "submit", sub, before, now))
    session.add(SubmissionRound(submission_id=sub.id or 0, round=sub.round, data=data, submitted_by=principal.user.id or 0, submitted_at=now))
    _move_obligation(session, sub, [ObligationStatus.SCHEDULED, ObligationStatus.OPEN, ObligationStatus.MISSED],
                     ObligationStatus.SUBMITTED)
    definition, campaign, _, _ = _context(session, sub)
    triggers.fire(session, triggers.Submitted(principal, campaign, definition, now, submission=sub))
    if sub.status != SubmissionStatus.IN_REVIEW:
        return sub  # a trigger sent it back (a hollow report): nobody reviews it, and its deadline's climb goes on
    if sub.obligation_id:
        # A submission stops the climb and records how late it came.
        triggers.overdue.resolve(session, now, sub.obligation_id)
    level = _chain(spec).levels[0]
    _notify(session, _users_who_decide(session, level, sub.township_id), "submission_submitted",
            f"submitted:{sub.id}:{sub.round}:0", _mail_context(session, sub, level_name=level.name), now)
    return sub


SENT_BACK_BY = "督办系统内容核查"  # the level name of a return by the system …
SYSTEM_REVIEWER = "督办系统"  # … and who made it, as pages show it


def send_back(session: Session, now: dt.datetime, sub: Submission, comment: str) -> dt.date | None:
    """Return a submitted report to its township for completion on a trigger's finding (a hollow section,
    ``tasks.triggers.hollow_report``), without a reviewer: recorded as a return by the system, with the same
    time to revise as any return; it does not count against the review policy's return rounds. Returns the
    date it must come back by (its deadline), None when that has passed already."""
    before = _snapshot(sub)
    save_versioned(session, sub, sub.version, {"status": SubmissionStatus.RETURNED, "updated_at": now}, what=WHAT)
    _move_obligation(session, sub, [ObligationStatus.SUBMITTED], ObligationStatus.OPEN)
    _allow_revision(session, None, sub, now)
    obligation = session.get(Obligation, sub.obligation_id) if sub.obligation_id else None
    due = obligation.due_on if obligation is not None and obligation.due_on >= china_date(now) else None
    comment = (comment + (f"（请于{zh_date(due)}前重新报送）" if due else "（已过报送期限，请立即重新报送）"))[:rules.MAX_COMMENT]
    session.add(Review(submission_id=sub.id or 0, round=sub.round, level=sub.current_level, level_name=SENT_BACK_BY,
                       reviewer_id=None, decision="return", comment=comment, created_at=now))
    _event(session, None, "submission.send_back", "submission", sub.id or 0, sub.township_id, before,
           _snapshot(sub) | {"comment": comment}, now)
    return due


def withdraw_submission(session: Session, principal: Principal, now: dt.datetime, submission_id: int,
                        version: int | None) -> Submission:
    sub, expected = _load_at(session, principal, submission_id, version)
    outcome = rules.withdraw(_state(sub), principal.actor)
    before = _snapshot(sub)
    _save(session, sub, expected, {"status": outcome.state.status, "round": outcome.state.round, "updated_at": now},
          _audit(principal, "withdraw", sub, before, now))
    _move_obligation(session, sub, [ObligationStatus.SUBMITTED], ObligationStatus.OPEN)
    return sub


def _outcome(state: rules.SubmissionState, principal: Principal, chain: rules.ReviewChain, decision: str,
             comment: str | None) -> rules.Outcome:
    if decision == "approve":
        return rules.approve(state, principal.actor, chain)
    if decision == "return":
        return rules.return_for_revision(state, principal.actor, chain, comment)
    if decision == "reject":
        return rules.reject(state, principal.actor, chain, comment)
    raise ValidationFailed("decision 只能是 approve、return 或 reject", errors=[{"field": "decision", "message": "unknown"}])


def decide(session: Session, principal: Principal, now: dt.datetime, submission_id: int, *, decision: str,
           comment: str | None, version: int | None, checks: Mapping[str, Mapping[str, Any]] | None = None,
           override_reason: str | None = None) -> Submission:
    """approve | return | reject at the submission's current level. A gate submission's checklist is recorded
    with the reviewer's judgements (``checks``); an approval it does not allow is refused, unless an
    administrator overrides failed checks with ``override_reason`` (see ``tasks.gate_checks``)."""
    sub, expected = _load_at(session, principal, submission_id, version)
    gate_key, spec = review_spec(session, sub)
    chain = _chain(spec)
    state = _state(sub)
    outcome = _outcome(state, principal, chain, decision, comment)
    decided = gate_checks.for_decision(session, principal, sub, now, decision=decision, checks=checks,
                                       override_reason=override_reason)
    level = chain.levels[sub.current_level]
    note = (comment or "").strip() or None
    extra: dict[str, Any] = {"comment": note, "level": level.name}
    if decided is not None:
        extra |= {"checks": {i.key: str(i.status) for i in decided.items}, "override_reason": decided.override_reason}
    before = _snapshot(sub)
    new = outcome.state
    changes: dict[str, Any] = {"status": new.status, "current_level": new.current_level, "returns": new.returns, "updated_at": now}
    if new.status in (SubmissionStatus.APPROVED, SubmissionStatus.REJECTED):
        changes["decided_at"] = now
    _save(session, sub, expected, changes, _audit(principal, decision, sub, before, now, extra))
    review = Review(submission_id=sub.id or 0, round=sub.round, level=state.current_level, level_name=level.name,
                    reviewer_id=principal.user.id or 0, decision=decision, comment=note, created_at=now,
                    checks=decided.recorded() if decided else None)
    session.add(review)
    if decided is not None and decided.override_reason:
        session.flush()
        gate_checks.record_override(session, principal, sub, review, decided, now)
    _after_decision(session, principal, sub, now, decision=decision, outcome=outcome, chain=chain, gate_key=gate_key,
                    state=state, comment=note)
    if decision == "return":
        definition, campaign, _, _ = _context(session, sub)
        triggers.fire(session, triggers.Returned(principal, campaign, definition, now, submission=sub,
                                                 max_returns=chain.max_returns, exceeded=outcome.returns_exceeded))
    return sub


def _after_decision(session: Session, principal: Principal, sub: Submission, now: dt.datetime, *, decision: str,
                    outcome: rules.Outcome, chain: rules.ReviewChain, gate_key: str | None,
                    state: rules.SubmissionState, comment: str | None) -> None:
    """What a decision sets off: the next level's notice, or the submitter's mail and the obligation and
    stage that follow an approval, or the revision time a return gives."""
    level, new = chain.levels[state.current_level], outcome.state
    submitter = _submitter(session, sub)
    ctx = _mail_context(
        session, sub, level_name=level.name, comment=comment, decided_on=china_date(now),
        next_level_name=None if outcome.final or decision != "approve" else chain.levels[new.current_level].name,
    )
    key = f"{decision}:{sub.id}:{sub.round}:{state.current_level}"
    if decision == "approve" and not outcome.final:
        next_level = chain.levels[new.current_level]
        _notify(session, _users_who_decide(session, next_level, sub.township_id), "submission_submitted",
                f"submitted:{sub.id}:{sub.round}:{new.current_level}", _mail_context(session, sub, level_name=next_level.name), now)
    elif decision == "approve":
        _notify(session, submitter, "submission_approved", key, ctx, now)
        _on_final_approval(session, principal, sub, gate_key, now)
    elif decision == "return":
        _move_obligation(session, sub, [ObligationStatus.SUBMITTED], ObligationStatus.OPEN)
        _allow_revision(session, principal, sub, now)
        _notify(session, submitter, "submission_returned", key, ctx, now)
    else:
        _notify(session, submitter, "submission_rejected", key, ctx, now)


def _all_approved(session: Session, *where: Any) -> bool:
    """Every live (not withdrawn) submission matched is approved, and there is one."""
    rows = list(session.exec(select(Submission).where(*where)))
    live = [s for s in rows if s.status != SubmissionStatus.WITHDRAWN]
    return bool(live) and all(s.status == SubmissionStatus.APPROVED for s in live)


def _on_final_approval(session: Session, principal: Principal, sub: Submission, gate_key: str | None, now: dt.datetime) -> None:
    today = china_date(now)
    definition, campaign, obligation, stage = _context(session, sub)
    if obligation is not None and _all_approved(session, Submission.obligation_id == obligation.id):
        on_time = sub.first_submitted_at is not None and china_date(sub.first_submitted_at) <= obligation.due_on
        obligation.status = ObligationStatus.MET if on_time else ObligationStatus.LATE
        obligation.met_on = today
        obligation.version += 1
        session.add(obligation)
        _event(session, principal, f"obligation.{obligation.status}", "obligation", obligation.id or 0, sub.township_id,
               None, {"status": obligation.status, "due_on": obligation.due_on, "met_on": today}, now)
        rule = definition.obligation(obligation.rule_key)
        if rule.kind == "list" and definition.consolidation_days:
            village_list.open_list(session, sub, definition, campaign, now)
    if gate_key and stage is not None:
        pass_stage_if_complete(session, principal, stage, gate_key, now)


def pass_stage_if_complete(session: Session, principal: Principal, stage: Stage, gate_key: str, now: dt.datetime) -> bool:
    """Pass ``stage`` once its gate is complete: every live submission of the gate approved and, for a gate
    answered per listed village, every listed village's (一村一策: ``tasks.village_list.plans_missing``). The
    public notice (公示, 001 六个不批(二)) runs before the county's decision and is one of the gate's checks, so
    a complete gate passes its stage at once. Returns whether it passed now."""
    campaign = session.get(Campaign, stage.campaign_id)
    assert campaign is not None
    definition = definition_of(campaign)
    if stage.status in (StageStatus.PASSED, StageStatus.IN_NOTICE) or not _all_approved(
            session, Submission.stage_id == stage.id, Submission.gate_key == gate_key):
        return False
    if village_list.plans_missing(session, campaign, definition, gate_key):
        return False
    before = {"status": stage.status}
    stage.status, stage.passed_on = StageStatus.PASSED, china_date(now)
    stage.version += 1
    session.add(stage)
    _event(session, principal, f"stage.{stage.status}", "stage", stage.id or 0, campaign.township_id, before,
           {"status": stage.status}, now)
    _notify_stage_passed(session, stage, campaign, now)
    return True


def _notify_stage_passed(session: Session, stage: Stage, campaign: Campaign, now: dt.datetime) -> None:
    users = list(session.exec(select(User).where(User.role == "submitter", User.org_unit_id == campaign.township_id)))
    township = session.get(OrgUnit, campaign.township_id)
    following = session.exec(select(Stage).where(Stage.campaign_id == campaign.id, Stage.seq == stage.seq + 1)).first()
    definition = definition_of(campaign)
    _notify(session, users, "stage_passed", f"stage_passed:{stage.id}", {
        "campaign_title": f"{campaign.year}年{definition.name}", "township": township.name if township else "",
        "stage_name": stage.name, "passed_on": stage.passed_on or china_date(now),
        "next_stage_name": following.name if following else None, "next_stage_due": following.closes_on if following else None,
        "link": absolute_url(f"/campaigns/{campaign.id}"),
    }, now)


_NOTICE_ENDED = select(Stage).where(Stage.status == StageStatus.IN_NOTICE,
                                    col(Stage.notice_ends_on) <= bindparam("today"))  # built once: the tick asks daily


def close_notice_periods(session: Session, now: dt.datetime) -> int:
    """Pass the stages whose public-notice period (公示) ended without a veto. Idempotent. Approvals no longer
    start such a period (the notice is checked before the decision); this finishes those started before."""
    today = china_date(now)
    stages = list(session.exec(_NOTICE_ENDED, params={"today": today}))
    for stage in stages:
        stage.status, stage.passed_on = StageStatus.PASSED, today
        stage.version += 1
        session.add(stage)
        campaign = session.get(Campaign, stage.campaign_id)
        assert campaign is not None
        append_event(session, actor_id=None, actor="system", action="stage.passed", subject_type="stage",
                     subject_id=stage.id or 0, township_id=campaign.township_id, before={"status": StageStatus.IN_NOTICE},
                     after={"status": StageStatus.PASSED, "passed_on": today.isoformat()}, now=now)
        _notify_stage_passed(session, stage, campaign, now)
    return len(stages)


def veto_submission(session: Session, principal: Principal, now: dt.datetime, submission_id: int, *, check: str,
                    comment: str | None, version: int | None) -> Submission:
    """One-vote veto (一票否决) of a gate application; bans new applications for the definition's period."""
    sub, expected = _load_at(session, principal, submission_id, version)
    outcome = rules.veto(_state(sub), principal.actor, comment)
    definition, campaign, _, stage = _context(session, sub)
    if not sub.gate_key:
        raise InvalidTransition("只有关口申报材料可以一票否决")
    gate = definition.gate(sub.gate_key)
    names = {c.key: c for c in gate.checks}
    if check not in names:
        raise ValidationFailed(f"“{gate.name}”没有审查项 {check}；可选：{', '.join(names)}", errors=[{"field": "check", "message": "unknown"}])
    before = _snapshot(sub)
    _save(session, sub, expected, {"status": outcome.state.status, "decided_at": now, "updated_at": now},
          _audit(principal, "veto", sub, before, now, {"check": check, "comment": (comment or "").strip()}))
    session.add(Review(submission_id=sub.id or 0, round=sub.round, level=sub.current_level, level_name=names[check].name,
                       reviewer_id=principal.user.id or 0, decision="veto", comment=(comment or "").strip(), created_at=now))
    # the applicant (申报对象) is barred: the village the application named, or the township
    veto = Veto(definition_key=definition.key, subject_id=sub.subject_id, submission_id=sub.id or 0, check_key=check,
                reason=(comment or "").strip(), banned_until_year=campaign.year + (gate.veto_ban_years or 0),
                created_by=principal.user.id or 0, created_at=now)
    session.add(veto)
    if stage is not None and stage.status in (StageStatus.IN_NOTICE, StageStatus.PASSED):
        stage.status, stage.notice_ends_on, stage.passed_on = StageStatus.VETOED, None, None
        stage.version += 1
        session.add(stage)
    obligation = session.get(Obligation, sub.obligation_id) if sub.obligation_id else None
    if obligation is not None and obligation.status in (ObligationStatus.MET, ObligationStatus.LATE, ObligationStatus.SUBMITTED):
        obligation.status = ObligationStatus.OPEN if obligation.due_on >= china_date(now) else ObligationStatus.MISSED
        obligation.met_on = None
        obligation.version += 1
        session.add(obligation)
    applicant = session.get(OrgUnit, sub.subject_id)
    ban = vetoes.Ban(veto, sub.gate_key, applicant.name if applicant else "", campaign.year)
    vetoes.waive_barred(session, definition, ban, now, (principal.user.id, principal.user.username))
    submitter = _submitter(session, sub)
    _notify(session, submitter, "submission_rejected", f"veto:{sub.id}",
            _mail_context(session, sub, level_name=names[check].name, comment=(comment or "").strip(), decided_on=china_date(now)), now)
    return sub
