"""The yearly assessment's pure rules (003 四(五)): the one-grade downgrade, whether a unit sent and kept its
cadres, and where a village stands in the graded acceptance."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.stationing import StationingRules
from domain.stationing_assessment import (
    MemberFacts,
    Verdict,
    acceptance_status,
    final_rating,
    required_share,
    township_verdict_problem,
    unit_dispatch,
    village_verdict_problem,
)
from domain.vocabulary import AcceptanceStatus, UnitRating

RULES = StationingRules()
ON = dt.date(2027, 1, 6)


@pytest.mark.parametrize(("proposed", "completed", "final"), [
    (UnitRating.EXCELLENT, False, UnitRating.PASS), (UnitRating.GOOD, False, UnitRating.PASS),
    (UnitRating.PASS, False, UnitRating.FAIL), (UnitRating.FAIL, False, UnitRating.FAIL),
    (UnitRating.EXCELLENT, True, UnitRating.EXCELLENT), (UnitRating.PASS, True, UnitRating.PASS),
])
def test_a_unit_that_failed_its_dispatch_goes_down_one_grade(proposed: UnitRating, completed: bool,
                                                             final: UnitRating) -> None:
    assert final_rating(proposed, completed) is final


def test_a_county_unit_must_send_the_lower_bound_of_about_a_fifth() -> None:
    assert required_share(35, True, RULES) == 6  # 15% of 35 = 5.25 → 6
    assert required_share(60, True, RULES) == 9
    assert required_share(30, False, RULES) == 0  # a city or province unit: 003 sets no share


def test_a_unit_that_sent_enough_and_kept_them_completed() -> None:
    members = [MemberFacts(f"干部{i}", "青石村", ON) for i in range(6)]
    done = unit_dispatch("县委组织部", 35, True, members, RULES)
    assert (done.completed, done.sent, done.required, done.shortfall) == (True, 6, 6, None)


def test_too_few_cadres_is_a_shortfall_in_chinese() -> None:
    short = unit_dispatch("县委组织部", 35, True, [MemberFacts("王建国", "青石村", ON)] * 3, RULES)
    assert not short.completed
    assert short.shortfall == "县委组织部编制35人，应选派不少于6名驻村干部（在编干部的20%左右），实际选派3名"


def test_a_cadre_who_never_arrived_or_left_without_a_replacement_was_not_kept() -> None:
    members = [MemberFacts("王建国", "青石村", None), MemberFacts("李海燕", "柳河村", ON, dt.date(2027, 5, 1)),
               MemberFacts("张志强", "白沙村", ON, dt.date(2027, 6, 1), refilled=True)]
    result = unit_dispatch("市供电局清溪分局", 30, False, members, RULES)
    assert not result.completed
    assert result.shortfall == "王建国（青石村）未到岗；李海燕（柳河村）于2027年5月1日提前离岗，未补派"


def test_the_latest_county_verdict_decides_the_standing() -> None:
    assert acceptance_status([]) is AcceptanceStatus.PENDING
    assert acceptance_status([Verdict(2029, False)]) is AcceptanceStatus.FAILED
    assert acceptance_status([Verdict(2029, False), Verdict(2030, True)]) is AcceptanceStatus.PASSED


def test_the_county_accepts_a_village_after_its_township_and_a_township_after_its_villages() -> None:
    assert village_verdict_problem("county", None, 2029) == "该村尚未经乡镇验收，请乡镇党委先验收，县里再验收"
    assert village_verdict_problem("county", Verdict(2029, False), 2030) is not None  # a new year: again first
    assert village_verdict_problem("county", Verdict(2030, True), 2030) is None
    assert village_verdict_problem("township", None, 2029) is None
    assert township_verdict_problem(["青石村", "柳河村"]) == "青石村、柳河村还没有县级验收结论，请先验收各村，再验收乡镇"
    assert township_verdict_problem([]) is None
