"""Review chains: who may submit, approve, return, reject or withdraw, and what each does.

Rules from the documents: a 一村一策 plan is sent back 1–2 rounds until it meets the three
no-passes (三个不放过) (004_7c184efb1f3c43f7.txt); returns beyond the definition's bound escalate
instead of looping. Nobody reviews their own submission.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from domain.errors import InvalidTransition, PermissionDenied, ValidationFailed
from domain.forms import text_problem
from domain.vocabulary import SubmissionStatus

EDITABLE = frozenset({SubmissionStatus.DRAFT, SubmissionStatus.RETURNED})
MAX_COMMENT = 4000


@dataclass(frozen=True)
class ChainLevel:
    level: str  # township | county
    name: str
    role: str  # reviewer | admin


@dataclass(frozen=True)
class ReviewChain:
    levels: tuple[ChainLevel, ...]
    max_returns: int


@dataclass(frozen=True)
class Actor:
    id: int
    role: str  # admin | reviewer | submitter | observer
    level: str | None  # reviewers: township | county
    township_id: int | None  # the township a submitter or township reviewer acts for


@dataclass(frozen=True)
class SubmissionState:
    status: str  # draft | in_review | returned | approved | rejected | withdrawn
    current_level: int
    round: int
    returns: int
    township_id: int
    created_by: int | None
    submitted_by: int | None


@dataclass(frozen=True)
class Outcome:
    state: SubmissionState
    final: bool = False  # approved at the last level
    returns_exceeded: bool = False


def may_submit(actor: Actor, township_id: int) -> bool:
    """Only the township's own submitters prepare and submit its material."""
    return actor.role == "submitter" and actor.township_id == township_id


def may_decide_at(actor: Actor, level: ChainLevel, township_id: int) -> bool:
    """Whether ``actor`` holds the reviewing role of ``level`` for this township."""
    if level.role == "admin":
        return actor.role == "admin"
    if level.level == "county":
        return actor.role == "admin" or (actor.role == "reviewer" and actor.level == "county")
    return actor.role == "reviewer" and actor.level == "township" and actor.township_id == township_id


def _require_submitter(state: SubmissionState, actor: Actor) -> None:
    if not may_submit(actor, state.township_id):
        raise PermissionDenied("只有本乡镇的填报人员可以编辑、提交或撤回这份材料")


def submit(state: SubmissionState, actor: Actor) -> Outcome:
    """Send a draft (or a returned submission, as a new round) to the first review level."""
    _require_submitter(state, actor)
    if state.status not in EDITABLE:
        raise InvalidTransition(f"当前状态为“{SubmissionStatus.label_of(state.status)}”，只有草稿或被退回的材料可以提交")
    next_round = state.round + 1 if state.status == SubmissionStatus.RETURNED else state.round
    return Outcome(replace(state, status=SubmissionStatus.IN_REVIEW, current_level=0, round=next_round, submitted_by=actor.id))


def withdraw(state: SubmissionState, actor: Actor) -> Outcome:
    """Take a submission back to draft before any level has approved it; the next submit is a new round."""
    _require_submitter(state, actor)
    if state.status != SubmissionStatus.IN_REVIEW or state.current_level != 0:
        raise InvalidTransition("只有尚未经任何一级审核通过的在审材料可以撤回")
    return Outcome(replace(state, status=SubmissionStatus.DRAFT, round=state.round + 1))


def _require_reviewer(state: SubmissionState, actor: Actor, chain: ReviewChain) -> ChainLevel:
    if state.status != SubmissionStatus.IN_REVIEW:
        raise InvalidTransition(f"当前状态为“{SubmissionStatus.label_of(state.status)}”，不在审核中")
    level = chain.levels[state.current_level]
    if actor.id in {state.submitted_by, state.created_by}:
        raise PermissionDenied("不能审核自己起草或提交的材料")
    if not may_decide_at(actor, level, state.township_id):
        raise PermissionDenied(f"这份材料正在“{level.name}”环节，您没有该环节的审核权限")
    return level


def _require_comment(comment: str | None, what: str) -> str:
    text = (comment or "").strip()
    if not text:
        raise ValidationFailed(f"{what}必须填写意见，说明需要修改什么", errors=[{"field": "comment", "message": "required"}])
    if len(text) > MAX_COMMENT:
        raise ValidationFailed(f"意见不能超过{MAX_COMMENT}字", errors=[{"field": "comment", "message": "too long"}])
    problem = text_problem(text)
    if problem:
        raise ValidationFailed(f"意见{problem}", errors=[{"field": "comment", "message": problem}])
    return text


def approve(state: SubmissionState, actor: Actor, chain: ReviewChain) -> Outcome:
    """Approve at the current level: on to the next level, or finally approved at the last one."""
    _require_reviewer(state, actor, chain)
    if state.current_level + 1 < len(chain.levels):
        return Outcome(replace(state, current_level=state.current_level + 1))
    return Outcome(replace(state, status=SubmissionStatus.APPROVED), final=True)


def return_for_revision(state: SubmissionState, actor: Actor, chain: ReviewChain, comment: str | None) -> Outcome:
    """Send back for revision (comment required). Past the definition's bound it escalates too."""
    _require_reviewer(state, actor, chain)
    _require_comment(comment, "退回修改")
    returns = state.returns + 1
    return Outcome(replace(state, status=SubmissionStatus.RETURNED, returns=returns), returns_exceeded=returns > chain.max_returns)


def reject(state: SubmissionState, actor: Actor, chain: ReviewChain, comment: str | None) -> Outcome:
    """Reject for good (comment required)."""
    _require_reviewer(state, actor, chain)
    _require_comment(comment, "不予通过")
    return Outcome(replace(state, status=SubmissionStatus.REJECTED))


def veto(state: SubmissionState, actor: Actor, comment: str | None) -> Outcome:
    """One-vote veto (一票否决, 001): an administrator fails an application at any level."""
    if actor.role != "admin":
        raise PermissionDenied("只有县委组织部可以行使一票否决")
    if state.status not in {SubmissionStatus.IN_REVIEW, SubmissionStatus.APPROVED}:
        raise InvalidTransition("只有在审或公示中的申报可以一票否决")
    _require_comment(comment, "一票否决")
    return Outcome(replace(state, status=SubmissionStatus.REJECTED))
