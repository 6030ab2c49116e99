"""Submissions as the caller may see them: lists, one submission with its rounds, reviews and attachments,
the reviewers' queue, and what the submission page and the edit form show."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_
from sqlalchemy import select as columns
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from domain import review as rules
from domain.definitions import ReviewSpec
from domain.vocabulary import heading, period_label
from models import (
    Attachment,
    Campaign,
    GateOverride,
    Obligation,
    OrgUnit,
    Review,
    Stage,
    Submission,
    SubmissionRound,
    User,
)
from tasks import gate_checks
from tasks import review as service
from tasks.accounts import Principal
from tasks.audit import events_for
from tasks.reads import where_given
from tasks.registry import definition_of, definition_version
from tasks.scope import scoped, visible


def user_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {u.id or 0: u.display_name for u in session.exec(select(User).where(col(User.id).in_(ids)))}


def _diff(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"field": k, "before": old.get(k), "after": new.get(k)} for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


def submission_public(session: Session, sub: Submission, *, now: dt.datetime | None = None, detail: bool = True,
                      spec: ReviewSpec | None = None) -> dict[str, Any]:
    """A submission as the API shows it: where it stands in its review chain and, in ``detail``, its data,
    rounds, reviews, attachments, what changed in the last round, its gate's checklist as of ``now`` and the
    overrides it was approved with."""
    if spec is None:
        _, spec = service.review_spec(session, sub)
    township = session.get(OrgUnit, sub.township_id)
    subject = session.get(OrgUnit, sub.subject_id)
    obligation = session.get(Obligation, sub.obligation_id) if sub.obligation_id else None
    level = spec.chain[sub.current_level] if sub.status == "in_review" else None
    out: dict[str, Any] = {
        "id": sub.id, "campaign_id": sub.campaign_id, "obligation_id": sub.obligation_id, "title": sub.title,
        "form": sub.form_key, "gate": sub.gate_key, "township": township.code if township else None,
        "township_name": township.name if township else None, "subject": subject.code if subject else None,
        "subject_name": subject.name if subject else None, "status": sub.status, "round": sub.round,
        "returns": sub.returns, "current_level": sub.current_level,
        "current_level_name": level.name if level else None,
        "chain": [{"level": lv.level, "name": lv.name, "role": lv.role} for lv in spec.chain],
        "max_return_rounds": spec.max_return_rounds, "due_on": obligation.due_on if obligation else None,
        "submitted_at": sub.submitted_at, "decided_at": sub.decided_at, "version": sub.version,
        "period": obligation.period if obligation else None,
        "period_label": period_label(obligation.period if obligation else None),
        "heading": heading(sub.title, township.name if township else None, subject.name if subject else None,
                           obligation.period if obligation else None),
    }
    if not detail:
        return out
    assert now is not None, "a submission in detail shows its checklist as of now"
    return out | _details(session, sub) | {"checks": gate_checks.shown(session, sub, now),
                                           "overrides": overrides_of_submission(session, sub)}


def material_heading(session: Session, *, title: str, township_id: int, subject_id: int | None,
                     period: str | None) -> str:
    """The title of a deadline's material naming its township, village and period (``domain.vocabulary.heading``)."""
    township = session.get(OrgUnit, township_id)
    subject = session.get(OrgUnit, subject_id) if subject_id else None
    return heading(title, township.name if township else None, subject.name if subject else None, period)


def submission_heading(session: Session, sub: Submission) -> str:
    """The title of ``sub`` naming its township, village and period."""
    obligation = session.get(Obligation, sub.obligation_id) if sub.obligation_id else None
    return material_heading(session, title=sub.title, township_id=sub.township_id, subject_id=sub.subject_id,
                            period=obligation.period if obligation else None)


def overrides_of_submission(session: Session, sub: Submission) -> list[dict[str, Any]]:
    """The overrides ``sub`` was approved with: at which level, by whom, why, and the checks passed over."""
    rows = gate_checks.overrides_of(session, GateOverride.submission_id == sub.id)
    names = user_names(session, {r.created_by for r in rows})
    return [{"id": r.id, "level_name": r.level_name, "reason": r.reason, "by": names.get(r.created_by),
             "at": r.created_at, "checks": r.checks} for r in rows]


def _details(session: Session, sub: Submission) -> dict[str, Any]:
    rounds = session.exec(select(SubmissionRound).where(SubmissionRound.submission_id == sub.id).order_by(col(SubmissionRound.round))).all()
    reviews = session.exec(select(Review).where(Review.submission_id == sub.id).order_by(col(Review.id))).all()
    names = user_names(session, {r.reviewer_id for r in reviews if r.reviewer_id} | {r.submitted_by for r in rounds})
    return {
        "data": sub.data,
        "rounds": [{"round": r.round, "data": r.data, "submitted_by": names.get(r.submitted_by), "submitted_at": r.submitted_at} for r in rounds],
        "reviews": [{"round": r.round, "level": r.level, "level_name": r.level_name, "decision": r.decision,
                     "comment": r.comment, "reviewer": names.get(r.reviewer_id) if r.reviewer_id else service.SYSTEM_REVIEWER, "at": r.created_at} for r in reviews],
        "changes_since_last_round": _diff(rounds[-2].data, rounds[-1].data) if len(rounds) >= 2 else None,
        "attachments": [{"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size,
                         "sha256": a.sha256, "url": f"/api/v1/attachments/{a.id}"} for a in attachments(session, sub)],
    }


def attachments(session: Session, sub: Submission) -> list[Attachment]:
    return list(session.exec(select(Attachment).where(Attachment.submission_id == sub.id).order_by(col(Attachment.id))))


def list_submissions(session: Session, principal: Principal, *, campaign: int | None = None, status: str | None = None,
                     limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """The caller's townships' submissions, by id, filtered by campaign and status."""
    stmt = where_given(scoped(select(Submission), principal, Submission.township_id),
                       (Submission.campaign_id, campaign), (Submission.status, status))
    rows = session.exec(stmt.order_by(col(Submission.id)).limit(limit).offset(offset)).all()
    return [submission_public(session, s, detail=False) for s in rows]


def get_submission(session: Session, principal: Principal, submission_id: int, *, now: dt.datetime) -> dict[str, Any]:
    """One submission in detail (its checklist as of ``now``); 404 outside the caller's townships."""
    return submission_public(session, service.load_submission(session, principal, submission_id), now=now)


def load_attachment(session: Session, principal: Principal, attachment_id: int) -> Attachment:
    """The attachment if the caller may see its submission's township; 404 otherwise (never 403)."""
    attachment = session.get(Attachment, attachment_id)
    sub = session.get(Submission, attachment.submission_id) if attachment else None
    return visible(principal, attachment if sub else None, sub.township_id if sub else None,
                   f"没有编号为 {attachment_id} 的附件")


def may_decide(principal: Principal, sub: Submission, spec: ReviewSpec) -> bool:
    """Whether the caller may decide ``sub`` at its current level: the level's role and scope, and never
    on material they drafted or submitted themselves."""
    if sub.status != "in_review" or principal.user.id in {sub.submitted_by, sub.created_by}:
        return False
    level = spec.chain[sub.current_level]
    return rules.may_decide_at(principal.actor, rules.ChainLevel(level.level, level.name, level.role), sub.township_id)


def review_queue(session: Session, principal: Principal, *, now: dt.datetime) -> list[dict[str, Any]]:
    """Submissions waiting for the caller's decision (administrators and reviewers), soonest due first, each
    with its gate's checklist as of ``now``.

    One SELECT finds the candidates with what decides who reviews them (definition version, deadline rule,
    stage, form, level); each review chain is worked out once per kind of material; only the rows the caller
    may decide are then loaded, with their campaign, deadline, stage and org units, in one more SELECT."""
    principal.require_role("admin", "reviewer")
    uid = principal.user.id
    candidates = session.execute(scoped(
        columns(col(Submission.id), col(Submission.current_level), col(Submission.township_id),
               col(Submission.submitted_by), col(Submission.created_by), col(Submission.form_key),
               col(Campaign.definition_key), col(Campaign.definition_version), col(Obligation.rule_key), col(Stage.key))
        .join(Campaign, col(Campaign.id) == Submission.campaign_id)
        .outerjoin(Obligation, col(Obligation.id) == Submission.obligation_id)
        .outerjoin(Stage, col(Stage.id) == Submission.stage_id)
        .where(col(Submission.status) == "in_review", or_(col(Submission.submitted_by).is_(None), col(Submission.submitted_by) != uid),
               or_(col(Submission.created_by).is_(None), col(Submission.created_by) != uid)),
        principal, Submission.township_id)).all()
    specs: dict[tuple[Any, ...], ReviewSpec] = {}
    mine: dict[int, ReviewSpec] = {}
    for row in candidates:
        kind = (row.definition_key, row.definition_version, row.rule_key, row.key, row.form_key)
        spec = specs.get(kind)
        if spec is None:
            _, spec = definition_version(row.definition_key, row.definition_version, session).review_for(
                row.rule_key, row.key, row.form_key)
            specs[kind] = spec
        level = spec.chain[row.current_level]
        if rules.may_decide_at(principal.actor, rules.ChainLevel(level.level, level.name, level.role), row.township_id):
            mine[row.id] = spec
    if not mine:
        return []
    township, subject = aliased(OrgUnit), aliased(OrgUnit)
    # the rows and what they show, in the session's identity map (kept referenced while the items are built)
    loaded = session.execute(
        columns(Submission, Campaign, Obligation, Stage, township, subject)
        .join(Campaign, col(Campaign.id) == Submission.campaign_id)
        .outerjoin(Obligation, col(Obligation.id) == Submission.obligation_id)
        .outerjoin(Stage, col(Stage.id) == Submission.stage_id)
        .join(township, col(township.id) == Submission.township_id)
        .outerjoin(subject, col(subject.id) == Submission.subject_id)
        .where(col(Submission.id).in_(mine))).all()
    items = [submission_public(session, sub, detail=False, spec=mine[sub.id or 0])
             | {"checks": [i.as_dict() for i in gate_checks.checklist(session, sub, now)]} for sub, *_ in loaded]
    del loaded
    items.sort(key=lambda s: (s["due_on"] or dt.date.max, s["id"]))
    return items


def submission_view(session: Session, principal: Principal, submission_id: int, *, now: dt.datetime) -> dict[str, Any]:
    """What the submission page shows: the submission in detail (its checklist as of ``now``), its form and
    field labels, whether the caller may decide or submit it (and override failed checks), what changed since
    the last return, and its audit history."""
    sub = service.load_submission(session, principal, submission_id)
    _, spec = service.review_spec(session, sub)
    detail = submission_public(session, sub, spec=spec, now=now)
    campaign = session.get(Campaign, sub.campaign_id)
    form = definition_of(campaign).form(sub.form_key) if campaign else None
    return {
        "submission": detail, "form": form, "labels": {f.key: f.label for f in form.fields} if form else {},
        "can_decide": may_decide(principal, sub, spec), "can_override": principal.user.role == "admin",
        "can_submit": sub.status in rules.EDITABLE and rules.may_submit(principal.actor, sub.township_id),
        "changes": detail["changes_since_last_round"],
        "last_return": next((r for r in reversed(detail["reviews"]) if r["decision"] == "return"), None),
        "history": (history := events_for(session, "submission", sub.id, 500, 0)),
        "actors": _actor_names(session, {e.actor for e in history}),
    }


def _actor_names(session: Session, usernames: set[str]) -> dict[str, str]:
    """Who acted, by username, as the histories name them (the system's own steps as 系统)."""
    names = {u.username: u.display_name for u in session.exec(select(User).where(col(User.username).in_(usernames)))}
    return names | {"system": service.SYSTEM_REVIEWER}


def submission_for(session: Session, obligation_id: int) -> Submission | None:
    """The material already started for an obligation, if any."""
    return session.exec(select(Submission).where(Submission.obligation_id == obligation_id)).first()


def last_return(session: Session, sub: Submission) -> Review | None:
    """The latest review that returned ``sub`` for revision."""
    return session.exec(select(Review).where(Review.submission_id == sub.id, Review.decision == "return")
                        .order_by(col(Review.id).desc())).first()
