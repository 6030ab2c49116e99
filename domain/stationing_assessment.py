"""The yearly assessment and the three-year acceptance of the stationing programme (003 四(五)).

Pure rules, no I/O: whether a dispatching unit sent and kept its cadres, the one-grade downgrade of a unit
that did not, and where a village or township stands in the graded acceptance. Messages are Chinese and say
what fell short."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from domain.stationing import StationingRules
from domain.vocabulary import AcceptanceStatus, UnitRating, zh_date

DOWNGRADE: dict[UnitRating, UnitRating] = {
    UnitRating.EXCELLENT: UnitRating.PASS, UnitRating.GOOD: UnitRating.PASS,
    UnitRating.PASS: UnitRating.FAIL, UnitRating.FAIL: UnitRating.FAIL,
}
"""003 四(五): "拟评为优秀、良好的评为合格档次，拟评为合格的评为不合格档次"; 不合格 stays 不合格."""


def final_rating(proposed: UnitRating, dispatch_completed: bool) -> UnitRating:
    """The rating that stands: ``proposed`` when the unit completed its dispatch, else one grade down
    (:data:`DOWNGRADE`): a unit that failed "当年度不得评定优秀、良好档次，并实行降级处理" (003 四(五))."""
    return proposed if dispatch_completed else DOWNGRADE[proposed]


@dataclass(frozen=True)
class MemberFacts:
    """One of the unit's cadres in the year's approved plan: arrived on site or not, left early or not, and
    whether the team was refilled (another cadre of the unit arrived in the same team on or after that day)."""

    name: str
    village: str
    arrived_on: dt.date | None
    left_on: dt.date | None = None
    refilled: bool = False


@dataclass(frozen=True)
class UnitDispatch:
    """Whether a unit sent and kept its cadres in a year, and what fell short (Chinese, None when nothing)."""

    completed: bool
    sent: int
    required: int
    shortfall: str | None


def required_share(establishment: int | None, county_unit: bool, rules: StationingRules) -> int:
    """How many cadres a unit must send at least: for a county unit (县直单位), the lower bound of "按在编干部的
    20%左右选派" (``unit_share_percent`` − ``unit_share_tolerance`` of the establishment, rounded up; 003 三(二));
    none for a province or city unit stationed in the county, whose share 003 does not set."""
    if not county_unit or not establishment:
        return 0
    return math.ceil(establishment * max(rules.unit_share_percent - rules.unit_share_tolerance, 0) / 100)


def unit_dispatch(unit_name: str, establishment: int | None, county_unit: bool, members: Sequence[MemberFacts],
                  rules: StationingRules) -> UnitDispatch:
    """Did the unit complete its dispatch in the year (003 四(五) "县直单位完成派干部下基层驻农村的情况")? It
    sent enough (:func:`required_share`) and kept them: every member arrived on site, and none left early
    without the team being refilled."""
    required = required_share(establishment, county_unit, rules)
    problems: list[str] = []
    if len(members) < required:
        problems.append(f"{unit_name}编制{establishment}人，应选派不少于{required}名驻村干部"
                        f"（在编干部的{rules.unit_share_percent}%左右），实际选派{len(members)}名")
    for m in members:
        if m.arrived_on is None:
            problems.append(f"{m.name}（{m.village}）未到岗")
        elif m.left_on is not None and not m.refilled:
            problems.append(f"{m.name}（{m.village}）于{zh_date(m.left_on)}提前离岗，未补派")
    return UnitDispatch(not problems, len(members), required, "；".join(problems) or None)


@dataclass(frozen=True)
class Verdict:
    """One acceptance verdict: its year and whether it passed."""

    year: int
    passed: bool


def acceptance_status(county_verdicts: Sequence[Verdict]) -> AcceptanceStatus:
    """A village's or township's standing: the latest county verdict decides (a village that failed is
    accepted again in a later year, "直至验收合格", 003 四(五)); none yet is 待验收."""
    if not county_verdicts:
        return AcceptanceStatus.PENDING
    latest = max(county_verdicts, key=lambda v: (v.year, v.passed))
    return AcceptanceStatus.PASSED if latest.passed else AcceptanceStatus.FAILED


def village_verdict_problem(level: str, township_verdict: Verdict | None, year: int) -> str | None:
    """A village is accepted by its township first, then by the county (县区乡镇验收村, 003 四(五)): the county
    may judge only after the township has given its verdict of the same year."""
    if level == "county" and (township_verdict is None or township_verdict.year != year):
        return "该村尚未经乡镇验收，请乡镇党委先验收，县里再验收"
    return None


def township_verdict_problem(villages_without_county_verdict: Sequence[str]) -> str | None:
    """A township is accepted by the county once each of its villages has a county verdict (市县区验收乡镇)."""
    if villages_without_county_verdict:
        shown = "、".join(villages_without_county_verdict[:5])
        more = f"等{len(villages_without_county_verdict)}个村" if len(villages_without_county_verdict) > 5 else ""
        return f"{shown}{more}还没有县级验收结论，请先验收各村，再验收乡镇"
    return None
