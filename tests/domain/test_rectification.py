"""A weak village's rectification as pure rules (domain/rectification.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from domain import rectification as rules
from domain.errors import InvalidTransition, ValidationFailed

DAY = dt.date(2026, 3, 2)
RECTIFYING = rules.RectificationState(status="rectifying")


def consolidating(accepted: dt.date = DAY, days: int = 365) -> rules.RectificationState:
    return rules.inspect(rules.apply_for_acceptance(RECTIFYING), True, accepted, days)


def test_apply_accept_then_consolidate_until_the_end_date() -> None:
    applied = rules.apply_for_acceptance(RECTIFYING)
    assert applied == rules.RectificationState(status="applied")
    accepted = rules.inspect(applied, True, DAY, 365)
    assert accepted.status == "consolidating"
    assert accepted.accepted_on == DAY
    assert accepted.consolidation_ends_on == dt.date(2027, 3, 2)
    assert (accepted.failed_acceptances, accepted.relapses, accepted.closed_on) == (0, 0, None)


def test_consolidation_length_comes_from_the_caller() -> None:
    assert consolidating(dt.date(2024, 2, 28), 30).consolidation_ends_on == dt.date(2024, 3, 29)  # leap year


def test_failed_acceptance_goes_back_to_rectifying_and_counts() -> None:
    failed = rules.inspect(rules.apply_for_acceptance(RECTIFYING), False, DAY, 365)
    assert failed.status == "rectifying"
    assert failed.failed_acceptances == 1
    assert failed.accepted_on is None and failed.consolidation_ends_on is None
    again = rules.inspect(rules.apply_for_acceptance(failed), False, DAY, 365)
    assert again.failed_acceptances == 2
    passed = rules.inspect(rules.apply_for_acceptance(again), True, DAY, 365)
    assert (passed.status, passed.failed_acceptances) == ("consolidating", 2)


@pytest.mark.parametrize("status", ["applied", "consolidating", "closed"])
def test_apply_only_while_rectifying(status: str) -> None:
    with pytest.raises(InvalidTransition) as exc:
        rules.apply_for_acceptance(rules.RectificationState(status=status))
    assert exc.value.status == 409


@pytest.mark.parametrize("status", ["rectifying", "consolidating", "closed"])
@pytest.mark.parametrize("passed", [True, False])
def test_inspect_only_after_applying(status: str, passed: bool) -> None:
    with pytest.raises(InvalidTransition):
        rules.inspect(rules.RectificationState(status=status), passed, DAY, 365)


def test_close_only_after_the_consolidation_period() -> None:
    state = consolidating()
    end = state.consolidation_ends_on
    assert end is not None
    for early in (DAY, end - dt.timedelta(days=1)):
        with pytest.raises(InvalidTransition) as exc:
            rules.close_out(state, early)
        assert f"{end.year}年{end.month}月{end.day}日" in exc.value.detail
    closed = rules.close_out(state, end + dt.timedelta(days=1))
    assert closed.status == "closed"
    assert closed.closed_on == end + dt.timedelta(days=1)
    assert (closed.accepted_on, closed.consolidation_ends_on) == (DAY, end)


@pytest.mark.parametrize("status", ["rectifying", "applied", "closed"])
def test_close_only_while_consolidating(status: str) -> None:
    with pytest.raises(InvalidTransition):
        rules.close_out(rules.RectificationState(status=status), DAY)


def test_consolidating_without_an_end_date_cannot_be_closed() -> None:
    with pytest.raises(InvalidTransition):
        rules.close_out(rules.RectificationState(status="consolidating"), DAY)


def test_relapse_from_consolidating_or_closed_reopens() -> None:
    state = consolidating()
    end = state.consolidation_ends_on
    assert end is not None
    closed = rules.close_out(state, end + dt.timedelta(days=1))
    for before in (state, closed):
        reopened = rules.relapse(before, "村两委再次出现严重分歧")
        assert reopened.status == "rectifying"
        assert reopened.relapses == 1
        assert (reopened.accepted_on, reopened.consolidation_ends_on, reopened.closed_on) == (None, None, None)
    twice = rules.relapse(consolidating_again(rules.relapse(closed, "回潮")), "再次回潮")
    assert twice.relapses == 2


def consolidating_again(state: rules.RectificationState) -> rules.RectificationState:
    return rules.inspect(rules.apply_for_acceptance(state), True, DAY, 365)


@pytest.mark.parametrize("reason", ["", "   ", "\n"])
def test_relapse_needs_a_reason(reason: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        rules.relapse(consolidating(), reason)
    assert exc.value.status == 422
    assert exc.value.errors == [{"field": "comment", "message": "required"}]


@pytest.mark.parametrize("status", ["rectifying", "applied"])
def test_relapse_only_from_consolidating_or_closed(status: str) -> None:
    with pytest.raises(InvalidTransition):
        rules.relapse(rules.RectificationState(status=status), "回潮")
