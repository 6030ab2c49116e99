"""Review chains as pure rules (domain/review.py): who may do what, and what each transition does."""

from __future__ import annotations

from dataclasses import replace

import pytest

from domain import review as rules
from domain.errors import InvalidTransition, PermissionDenied, ValidationFailed
from domain.vocabulary import SubmissionStatus

QX01, QX02 = 101, 102  # township ids
TOWNSHIP = rules.ChainLevel(level="township", name="乡（镇）党委审核", role="reviewer")
COUNTY = rules.ChainLevel(level="county", name="县委组织部审核", role="reviewer")
COUNTY_ADMIN = rules.ChainLevel(level="county", name="县委组织部组织科", role="admin")
CHAIN = rules.ReviewChain(levels=(TOWNSHIP, COUNTY), max_returns=2)
ADMIN_ONLY = rules.ReviewChain(levels=(COUNTY_ADMIN,), max_returns=1)

LIAISON = rules.Actor(id=1, role="submitter", level=None, township_id=QX01)
LIAISON_2 = rules.Actor(id=2, role="submitter", level=None, township_id=QX01)  # a second liaison of QX01
OTHER_LIAISON = rules.Actor(id=3, role="submitter", level=None, township_id=QX02)
SECRETARY = rules.Actor(id=4, role="reviewer", level="township", township_id=QX01)
OTHER_SECRETARY = rules.Actor(id=5, role="reviewer", level="township", township_id=QX02)
COUNTY_REVIEWER = rules.Actor(id=6, role="reviewer", level="county", township_id=None)
ADMIN = rules.Actor(id=7, role="admin", level=None, township_id=None)
OBSERVER = rules.Actor(id=8, role="observer", level=None, township_id=None)
EVERYONE = [LIAISON, LIAISON_2, OTHER_LIAISON, SECRETARY, OTHER_SECRETARY, COUNTY_REVIEWER, ADMIN, OBSERVER]


def draft(**changes: object) -> rules.SubmissionState:
    state = rules.SubmissionState(status="draft", current_level=0, round=1, returns=0, township_id=QX01,
                                  created_by=LIAISON.id, submitted_by=None)
    return replace(state, **changes)  # type: ignore[arg-type]


def in_review(level: int = 0, **changes: object) -> rules.SubmissionState:
    fields: dict[str, object] = {"status": "in_review", "current_level": level, "submitted_by": LIAISON.id}
    return draft(**(fields | changes))


# ---- submit -------------------------------------------------------------------------------------------


def test_submit_a_draft_goes_to_the_first_level_in_the_same_round() -> None:
    outcome = rules.submit(draft(), LIAISON)
    assert outcome.state == draft(status="in_review", current_level=0, round=1, submitted_by=LIAISON.id)
    assert (outcome.final, outcome.returns_exceeded) == (False, False)


def test_resubmitting_after_a_return_starts_the_next_round_at_level_zero() -> None:
    returned = in_review(level=1, status="returned", round=2, returns=2)
    outcome = rules.submit(returned, LIAISON_2)
    assert outcome.state.status == "in_review"
    assert outcome.state.current_level == 0
    assert outcome.state.round == 3
    assert outcome.state.returns == 2  # the count of returns is kept
    assert outcome.state.submitted_by == LIAISON_2.id


def test_a_withdrawn_draft_resubmits_as_a_new_round() -> None:
    # Round 2's snapshot is kept as it was withdrawn; what comes back is round 3.
    back_to_draft = rules.withdraw(in_review(round=2), LIAISON).state
    assert rules.submit(back_to_draft, LIAISON).state.round == 3


@pytest.mark.parametrize("status", ["in_review", "approved", "rejected", "withdrawn"])
def test_submit_is_refused_unless_draft_or_returned(status: str) -> None:
    with pytest.raises(InvalidTransition) as exc:
        rules.submit(draft(status=status), LIAISON)
    assert f"当前状态为“{SubmissionStatus.label_of(status)}”" in exc.value.detail
    assert exc.value.status == 409


@pytest.mark.parametrize("actor", [OTHER_LIAISON, SECRETARY, OTHER_SECRETARY, COUNTY_REVIEWER, ADMIN, OBSERVER])
def test_only_the_townships_own_submitters_may_submit(actor: rules.Actor) -> None:
    assert not rules.may_submit(actor, QX01)
    with pytest.raises(PermissionDenied) as exc:
        rules.submit(draft(), actor)
    assert exc.value.status == 403


def test_may_submit() -> None:
    assert rules.may_submit(LIAISON, QX01)
    assert rules.may_submit(LIAISON_2, QX01)
    assert not rules.may_submit(LIAISON, QX02)
    assert rules.may_submit(OTHER_LIAISON, QX02)


# ---- withdraw ----------------------------------------------------------------------------------------


def test_withdraw_at_level_zero_goes_back_to_draft() -> None:
    outcome = rules.withdraw(in_review(round=2), LIAISON)
    assert outcome.state.status == "draft"
    assert outcome.state.round == 3
    assert outcome.state.current_level == 0


@pytest.mark.parametrize("state", [
    in_review(level=1),  # the township already approved in this round
    draft(),
    draft(status="returned"),
    draft(status="approved", current_level=1),
    draft(status="rejected"),
])
def test_withdraw_is_refused_outside_level_zero_in_review(state: rules.SubmissionState) -> None:
    with pytest.raises(InvalidTransition):
        rules.withdraw(state, LIAISON)


@pytest.mark.parametrize("actor", [OTHER_LIAISON, SECRETARY, ADMIN, COUNTY_REVIEWER])
def test_withdraw_only_by_the_townships_submitters(actor: rules.Actor) -> None:
    with pytest.raises(PermissionDenied):
        rules.withdraw(in_review(), actor)


# ---- approve -----------------------------------------------------------------------------------------


def test_approve_advances_level_by_level_then_is_final() -> None:
    first = rules.approve(in_review(level=0), SECRETARY, CHAIN)
    assert first.state.status == "in_review"
    assert first.state.current_level == 1
    assert first.final is False
    last = rules.approve(first.state, COUNTY_REVIEWER, CHAIN)
    assert last.state.status == "approved"
    assert last.state.current_level == 1
    assert last.final is True
    assert (last.state.round, last.state.returns) == (1, 0)


def test_single_admin_level_approves_at_once() -> None:
    outcome = rules.approve(in_review(), ADMIN, ADMIN_ONLY)
    assert (outcome.state.status, outcome.final) == ("approved", True)


@pytest.mark.parametrize("status", ["draft", "returned", "approved", "rejected", "withdrawn"])
@pytest.mark.parametrize("decide", ["approve", "return", "reject"])
def test_decisions_need_a_submission_in_review(status: str, decide: str) -> None:
    state = in_review(status=status)
    with pytest.raises(InvalidTransition) as exc:
        if decide == "approve":
            rules.approve(state, SECRETARY, CHAIN)
        elif decide == "return":
            rules.return_for_revision(state, SECRETARY, CHAIN, "请修改")
        else:
            rules.reject(state, SECRETARY, CHAIN, "不予通过")
    assert f"当前状态为“{SubmissionStatus.label_of(status)}”" in exc.value.detail


@pytest.mark.parametrize("actor", [OTHER_SECRETARY, COUNTY_REVIEWER, ADMIN, LIAISON_2, OBSERVER])
def test_only_the_townships_reviewer_decides_at_the_township_level(actor: rules.Actor) -> None:
    with pytest.raises(PermissionDenied) as exc:
        rules.approve(in_review(level=0), actor, CHAIN)
    assert TOWNSHIP.name in exc.value.detail


@pytest.mark.parametrize("actor", [SECRETARY, OTHER_SECRETARY, LIAISON_2, OBSERVER])
def test_township_people_cannot_decide_at_the_county_level(actor: rules.Actor) -> None:
    with pytest.raises(PermissionDenied):
        rules.approve(in_review(level=1), actor, CHAIN)


@pytest.mark.parametrize("actor", [COUNTY_REVIEWER, ADMIN])
def test_county_reviewer_or_admin_decide_at_a_county_reviewer_level(actor: rules.Actor) -> None:
    assert rules.approve(in_review(level=1), actor, CHAIN).final


# ---- self-review ------------------------------------------------------------------------------------


def test_the_submitter_may_not_review_their_own_submission() -> None:
    # A reviewer account that submitted (ids clash on purpose: the same person in a different role).
    state = in_review(level=1, created_by=99, submitted_by=COUNTY_REVIEWER.id)
    with pytest.raises(PermissionDenied) as exc:
        rules.approve(state, COUNTY_REVIEWER, CHAIN)
    assert "自己" in exc.value.detail


def test_the_creator_may_not_review_it_either() -> None:
    state = in_review(level=1, created_by=ADMIN.id, submitted_by=LIAISON.id)
    for call in (
        lambda: rules.approve(state, ADMIN, CHAIN),
        lambda: rules.return_for_revision(state, ADMIN, CHAIN, "请修改"),
        lambda: rules.reject(state, ADMIN, CHAIN, "不予通过"),
    ):
        with pytest.raises(PermissionDenied) as exc:
            call()
        assert "自己" in exc.value.detail
    # someone else with the same rights may
    assert rules.approve(state, COUNTY_REVIEWER, CHAIN).final


def test_no_submitted_by_yet_does_not_block_reviewers() -> None:
    state = in_review(level=1, submitted_by=None)
    assert rules.approve(state, ADMIN, CHAIN).final


# ---- return and reject ------------------------------------------------------------------------------


def test_return_needs_a_comment_and_counts_returns() -> None:
    outcome = rules.return_for_revision(in_review(level=1), COUNTY_REVIEWER, CHAIN, "  问题找得不准  ")
    assert outcome.state.status == "returned"
    assert outcome.state.returns == 1
    assert outcome.state.round == 1  # the next round starts on resubmission
    assert outcome.returns_exceeded is False
    assert outcome.final is False


@pytest.mark.parametrize("comment", [None, "", "   ", "\n\t"])
def test_return_and_reject_refuse_an_empty_comment(comment: str | None) -> None:
    for call in (
        lambda: rules.return_for_revision(in_review(), SECRETARY, CHAIN, comment),
        lambda: rules.reject(in_review(), SECRETARY, CHAIN, comment),
    ):
        with pytest.raises(ValidationFailed) as exc:
            call()
        assert exc.value.status == 422
        assert exc.value.errors == [{"field": "comment", "message": "required"}]


def test_comment_length_limit_is_4000_characters() -> None:
    ok = "改" * rules.MAX_COMMENT
    assert rules.MAX_COMMENT == 4000
    assert rules.return_for_revision(in_review(), SECRETARY, CHAIN, ok).state.status == "returned"
    assert rules.reject(in_review(), SECRETARY, CHAIN, ok).state.status == "rejected"
    for call in (
        lambda: rules.return_for_revision(in_review(), SECRETARY, CHAIN, ok + "改"),
        lambda: rules.reject(in_review(), SECRETARY, CHAIN, ok + "改"),
    ):
        with pytest.raises(ValidationFailed) as exc:
            call()
        assert exc.value.errors == [{"field": "comment", "message": "too long"}]
        assert "4000" in exc.value.detail


def test_returns_exceeded_only_past_the_bound() -> None:
    seen = []
    state = in_review()
    for _ in range(4):
        outcome = rules.return_for_revision(state, SECRETARY, CHAIN, "请修改")
        seen.append((outcome.state.returns, outcome.returns_exceeded))
        state = rules.submit(outcome.state, LIAISON).state
    assert seen == [(1, False), (2, False), (3, True), (4, True)]
    assert state.round == 5


def test_reject_is_final_and_refused_for_wrong_reviewers() -> None:
    outcome = rules.reject(in_review(level=1), ADMIN, CHAIN, "材料不实")
    assert outcome.state.status == "rejected"
    assert outcome.final is False
    assert outcome.state.returns == 0
    with pytest.raises(PermissionDenied):
        rules.reject(in_review(level=0), COUNTY_REVIEWER, CHAIN, "材料不实")
    with pytest.raises(PermissionDenied):
        rules.return_for_revision(in_review(level=0), OTHER_SECRETARY, CHAIN, "请修改")


def test_permission_is_checked_before_the_comment() -> None:
    with pytest.raises(PermissionDenied):
        rules.return_for_revision(in_review(), OTHER_SECRETARY, CHAIN, None)


# ---- may_decide_at ----------------------------------------------------------------------------------

EXPECTED = {
    # actor → (township level of QX01, township level of QX02, county reviewer level, county admin level)
    "LIAISON": (False, False, False, False),
    "LIAISON_2": (False, False, False, False),
    "OTHER_LIAISON": (False, False, False, False),
    "SECRETARY": (True, False, False, False),
    "OTHER_SECRETARY": (False, True, False, False),
    "COUNTY_REVIEWER": (False, False, True, False),
    "ADMIN": (False, False, True, True),
    "OBSERVER": (False, False, False, False),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_may_decide_at_every_role_level_and_township(name: str) -> None:
    actor = globals()[name]
    got = (
        rules.may_decide_at(actor, TOWNSHIP, QX01),
        rules.may_decide_at(actor, TOWNSHIP, QX02),
        rules.may_decide_at(actor, COUNTY, QX01),
        rules.may_decide_at(actor, COUNTY_ADMIN, QX01),
    )
    assert got == EXPECTED[name]


def test_county_levels_do_not_depend_on_the_township() -> None:
    for township in (QX01, QX02, 999):
        assert rules.may_decide_at(COUNTY_REVIEWER, COUNTY, township)
        assert rules.may_decide_at(ADMIN, COUNTY_ADMIN, township)
        assert not rules.may_decide_at(COUNTY_REVIEWER, COUNTY_ADMIN, township)


def test_a_township_reviewer_without_a_township_decides_nowhere() -> None:
    loose = rules.Actor(id=40, role="reviewer", level="township", township_id=None)
    assert not rules.may_decide_at(loose, TOWNSHIP, QX01)
    assert not rules.may_decide_at(loose, COUNTY, QX01)


def test_an_admin_only_township_level_is_for_admins() -> None:
    level = rules.ChainLevel(level="township", name="特殊", role="admin")
    assert rules.may_decide_at(ADMIN, level, QX01)
    assert not rules.may_decide_at(SECRETARY, level, QX01)
    assert not rules.may_decide_at(COUNTY_REVIEWER, level, QX01)


# ---- veto --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status,level", [("in_review", 0), ("in_review", 1), ("approved", 1)])
def test_admin_vetoes_in_review_or_approved(status: str, level: int) -> None:
    outcome = rules.veto(in_review(level=level, status=status), ADMIN, "发生安全生产事故")
    assert outcome.state.status == "rejected"
    assert outcome.state.current_level == level


@pytest.mark.parametrize("actor", [a for a in EVERYONE if a is not ADMIN])
def test_only_admins_veto(actor: rules.Actor) -> None:
    with pytest.raises(PermissionDenied) as exc:
        rules.veto(in_review(level=1), actor, "一票否决")
    assert "一票否决" in exc.value.detail


@pytest.mark.parametrize("status", ["draft", "returned", "rejected", "withdrawn"])
def test_veto_needs_in_review_or_approved(status: str) -> None:
    with pytest.raises(InvalidTransition):
        rules.veto(in_review(status=status), ADMIN, "一票否决")


@pytest.mark.parametrize("comment", [None, "", "  "])
def test_veto_needs_a_comment(comment: str | None) -> None:
    with pytest.raises(ValidationFailed):
        rules.veto(in_review(level=1), ADMIN, comment)
    with pytest.raises(ValidationFailed):
        rules.veto(in_review(level=1), ADMIN, "否" * 4001)


def test_transitions_do_not_mutate_the_input_state() -> None:
    state = in_review()
    rules.approve(state, SECRETARY, CHAIN)
    rules.return_for_revision(state, SECRETARY, CHAIN, "请修改")
    assert state == in_review()
