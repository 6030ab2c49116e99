"""A gate submission's checklist, gathered from the database and evaluated by ``domain.gate_checks``: live for
the reviewer at hand, recorded on each decision (``Review.checks``), enforced on approval, and an
administrator's override written as a ``GateOverride`` with its audit event, in the decision's transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from core.clock import china_date
from domain import gate_checks as rules
from domain.definitions import Definition, Gate
from domain.errors import ValidationFailed
from domain.vocabulary import StageStatus, SubmissionStatus
from models import Campaign, GateOverride, Review, Stage, Submission, User
from tasks.accounts import Principal
from tasks.audit import append_event, jsonable
from tasks.registry import definition_of

SATISFIED = (StageStatus.PASSED, StageStatus.WAIVED)
"""A required gate's stage in these statuses no longer holds a later gate back (waived: over before launch)."""


@dataclass(frozen=True)
class Decided:
    """The checklist of one decision, as recorded on its review, and the override it carries (if any)."""

    items: list[rules.CheckItem]
    override_reason: str | None = None

    def recorded(self) -> list[dict[str, Any]]:
        return [item.as_dict() for item in self.items]


def gate_of(session: Session, sub: Submission) -> tuple[Definition, Gate] | None:
    """The definition and gate ``sub`` applies for, or None for material that passes no gate."""
    if not sub.gate_key:
        return None
    campaign = session.get(Campaign, sub.campaign_id)
    assert campaign is not None
    definition = definition_of(campaign)
    return definition, definition.gate(sub.gate_key)


def _level(sub: Submission) -> int:
    """The chain level a checklist is for: where the submission waits, or the first for a draft."""
    return sub.current_level if sub.status == SubmissionStatus.IN_REVIEW else 0


def facts(session: Session, sub: Submission, definition: Definition, gate: Gate, now: dt.datetime) -> rules.GateFacts:
    """What the checks of ``gate`` read about ``sub`` on the day of ``now``."""
    today = china_date(now)
    applied = china_date(sub.submitted_at) if sub.submitted_at and sub.status == SubmissionStatus.IN_REVIEW else today
    return rules.GateFacts(
        data=sub.data, labels={f.key: f.label for f in definition.form(gate.form).fields}, decision_on=today,
        applied_on=applied, final=_level(sub) == len(gate.review_chain) - 1,
        self_checks={c.key: _self_checks(session, sub, c.form or "", c.score_field or "")
                     for c in gate.checks if c.kind == "self_check"},
        prerequisites=_prerequisites(session, sub, definition, gate),
    )


def _self_checks(session: Session, sub: Submission, form: str, score_field: str) -> list[rules.SelfCheck]:
    """The applicant's self-check summaries in the campaign (its own, or the township's), oldest decision first."""
    rows = session.exec(select(Submission).where(
        Submission.campaign_id == sub.campaign_id, Submission.form_key == form,
        col(Submission.subject_id).in_({sub.subject_id, sub.township_id}),
        Submission.status != SubmissionStatus.WITHDRAWN).order_by(col(Submission.id)))
    found = [rules.SelfCheck(s.id or 0, s.status, china_date(s.decided_at) if s.decided_at else None,
                             s.data.get(score_field)) for s in rows]
    return sorted(found, key=lambda c: (c.decided_on or dt.date.max, c.submission_id))


def _prerequisites(session: Session, sub: Submission, definition: Definition, gate: Gate) -> list[rules.Prerequisite]:
    stages = {s.gate_key: s for s in session.exec(select(Stage).where(
        Stage.campaign_id == sub.campaign_id, col(Stage.gate_key).in_(gate.requires)))} if gate.requires else {}
    out = []
    for key in gate.requires:
        stage = stages.get(key)
        out.append(rules.Prerequisite(
            gate=key, name=definition.gate(key).name, stage_name=stage.name if stage else "",
            passed=stage is not None and stage.status in SATISFIED,
            status_label=StageStatus.label_of(stage.status) if stage else "未启动"))
    return out


def checklist(session: Session, sub: Submission, now: dt.datetime,
              ticks: Mapping[str, rules.Tick] | None = None) -> list[rules.CheckItem]:
    """The checklist of ``sub`` for a decision at its current level now; empty for material that passes no gate."""
    found = gate_of(session, sub)
    if found is None:
        return []
    definition, gate = found
    return rules.evaluate(gate, facts(session, sub, definition, gate, now), ticks)


def for_decision(session: Session, principal: Principal, sub: Submission, now: dt.datetime, *, decision: str,
                 checks: Mapping[str, Mapping[str, Any]] | None, override_reason: str | None) -> Decided | None:
    """The checklist a decision on ``sub`` records, the reviewer's judgements (``checks``) applied; for an
    approval, refused (409/422/403) unless it may go ahead. None for material that passes no gate."""
    reason = (override_reason or "").strip() or None
    if reason and decision != "approve":
        raise ValidationFailed("例外批准理由只用于批准", errors=[{"field": "override_reason", "message": "approve only"}])
    found = gate_of(session, sub)
    if found is None:
        if checks:
            raise ValidationFailed("这份材料不经过关口审批，没有审查项", errors=[{"field": "checks", "message": "no gate"}])
        if reason:
            raise ValidationFailed("这份材料不经过关口审批，无需例外批准", errors=[{"field": "override_reason", "message": "no gate"}])
        return None
    definition, gate = found
    known = facts(session, sub, definition, gate, now)
    items = rules.evaluate(gate, known, rules.read_ticks(gate, checks))
    if decision == "approve":
        refused = rules.refusal(items, final=known.final, admin=principal.user.role == "admin", override_reason=reason)
        if refused is not None:
            raise refused
    return Decided(items, reason if decision == "approve" else None)


def record_override(session: Session, principal: Principal, sub: Submission, review: Review, decided: Decided,
                    now: dt.datetime) -> GateOverride | None:
    """Write the override an approval carries, and its audit event (``gate.override``)."""
    passed_over = rules.overridden(decided.items)
    if not decided.override_reason or not passed_over:
        return None
    campaign = session.get(Campaign, sub.campaign_id)
    assert campaign is not None and sub.gate_key is not None
    row = GateOverride(
        submission_id=sub.id or 0, review_id=review.id or 0, campaign_id=sub.campaign_id, township_id=sub.township_id,
        year=china_date(now).year, definition_key=campaign.definition_key, gate_key=sub.gate_key,
        level_name=review.level_name, checks=[i.as_dict() for i in passed_over], reason=decided.override_reason,
        created_by=principal.user.id or 0, created_at=now)
    session.add(row)
    session.flush()
    append_event(session, actor_id=principal.user.id, actor=principal.user.username, action="gate.override",
                 subject_type="submission", subject_id=sub.id or 0, township_id=sub.township_id, before=None,
                 after=jsonable({"override_id": row.id, "gate": sub.gate_key, "reason": row.reason,
                                 "checks": {i.key: i.reason for i in passed_over}}), now=now)
    return row


def shown(session: Session, sub: Submission, now: dt.datetime) -> list[dict[str, Any]]:
    """The checklist a page or the API shows for ``sub``: live while it can still be decided (with the judgements
    earlier levels of this round recorded), as recorded at the last decision once it is decided."""
    if sub.status in (SubmissionStatus.APPROVED, SubmissionStatus.REJECTED):
        last = session.exec(select(Review).where(Review.submission_id == sub.id, col(Review.checks).is_not(None))
                            .order_by(col(Review.id).desc())).first()
        if last is not None and last.checks is not None:
            return list(last.checks)
    items = [i.as_dict() for i in checklist(session, sub, now)]
    earlier = _earlier_judgements(session, sub)
    for item in items:
        item["earlier_judgements"] = earlier.get(item["key"], [])
    return items


def _earlier_judgements(session: Session, sub: Submission) -> dict[str, list[dict[str, Any]]]:
    """The judgements made at earlier levels of the current round, by check."""
    if sub.status != SubmissionStatus.IN_REVIEW:
        return {}
    reviews = list(session.exec(select(Review).where(Review.submission_id == sub.id, Review.round == sub.round,
                                                     col(Review.checks).is_not(None)).order_by(col(Review.id))))
    names = {u.id: u.display_name for u in session.exec(select(User).where(
        col(User.id).in_({r.reviewer_id for r in reviews})))} if reviews else {}
    out: dict[str, list[dict[str, Any]]] = {}
    for review in reviews:
        for item in review.checks or []:
            if item.get("judgement"):
                out.setdefault(item["key"], []).append(item["judgement"] | {
                    "level_name": review.level_name, "reviewer": names.get(review.reviewer_id), "at": review.created_at})
    return out


def overrides_of(session: Session, *where: Any) -> list[GateOverride]:
    """Overrides matching ``where``, oldest first."""
    return list(session.exec(select(GateOverride).where(*where).order_by(col(GateOverride.id))))
