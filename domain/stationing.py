"""The stationing plan (选派安排表) of a campaign year: which cadres form each village's team (003 三(二)).

Pure rules, no I/O: the settings (:class:`StationingRules`, the ``stationing:`` block of a definition), the
size a village's team must have, and the problems of a draft plan, each in Chinese saying what to fix."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass

from pydantic import Field

from domain.schema import Strict


class StationingRules(Strict):
    """Settings of the stationing plan; defaults from 003 三(二) where it gives a number."""

    income_threshold: int = Field(
        default=30_000, ge=0, description="collective net income (yuan/yr) from which one cadre suffices (3万元)")
    team_size: int = Field(default=1, ge=1, le=10, description="cadres for a village at or above the threshold")
    weak_team_size: int = Field(
        default=3, ge=1, le=10, description="cadres for a poorer village, or one on the weak list (班子较弱、问题较多)")
    unit_share_percent: int = Field(
        default=20, ge=1, le=100, description="share of a county unit's establishment it sends (20%左右)")
    unit_share_tolerance: int = Field(
        default=5, ge=0, le=50, description="percentage points “左右” allows either side (003 is silent)")
    first_arrival: tuple[int, int] = Field(default=(1, 8), description="(month, day) the first batch is on site")
    later_arrival: tuple[int, int] = Field(
        default=(1, 8), description="(month, day) later batches are on site (003 is silent: the first batch's day)")
    programme_years: int = Field(
        default=3, ge=1, le=10, description="campaign years of a programme (003: 用3年时间; 三年一验收)")
    acceptance_opens: tuple[int, int] = Field(
        default=(12, 1), description="(month, day) of the programme's last year from which acceptance (验收) is "
                                     "recorded (003 is silent on the day: 1 December)")
    leader_min_visits: int = Field(
        default=3, ge=0, le=50, description="visits a county leader makes to the contact village each half-year (不少于3次)")

    def arrival_due(self, year: int, first_batch: bool) -> dt.date:
        """The day a batch's cadres must be on site: 8 January for the first (003 三(二)), a setting after."""
        month, day = self.first_arrival if first_batch else self.later_arrival
        return dt.date(year, month, day)

    def acceptance_open_on(self, last_year: int) -> dt.date:
        """The first day the graded acceptance (三年一验收, 003 四(五)) may be recorded: ``acceptance_opens``
        of the programme's last year."""
        month, day = self.acceptance_opens
        return dt.date(last_year, month, day)


@dataclass(frozen=True)
class VillageFacts:
    """What the team size depends on: the village's collective net income and whether it is on a weak list."""

    code: str
    name: str
    collective_income: int | None
    weak: bool = False


@dataclass(frozen=True)
class Team:
    """One village's team in a draft plan: its cadres (codes) and its leader (挂任村党支部副书记或村委会主任助理)."""

    village: str
    cadres: tuple[str, ...]
    leader: str | None = None


def required_team_size(village: VillageFacts, rules: StationingRules) -> int | None:
    """How many cadres the village's team needs (003 三(二)): ``weak_team_size`` (3) when its collective net
    income is below ``income_threshold`` (3万元) or it is on a weak list, else ``team_size`` (1); None when the
    income is unknown and the village is not on a weak list."""
    if village.weak:
        return rules.weak_team_size
    if village.collective_income is None:
        return None
    return rules.weak_team_size if village.collective_income < rules.income_threshold else rules.team_size


def _size_problem(team: Team, village: VillageFacts, rules: StationingRules) -> str | None:
    need = required_team_size(village, rules)
    if need is None:
        return f"{village.name}的集体经济年纯收入未填写，无法确定工作组人数，请先在组织架构中填写"
    if len(team.cadres) == need:
        return None
    why = ("该村在后进薄弱村名单上" if village.weak
           else f"该村集体经济年纯收入{village.collective_income}元，"
                f"{'低于' if need == rules.weak_team_size else '不低于'}{rules.income_threshold}元")
    return f"{village.name}工作组应有{need}名驻村干部（{why}），现有{len(team.cadres)}名"


def team_problems(teams: list[Team], villages: dict[str, VillageFacts], names: dict[str, str],
                  rules: StationingRules) -> list[dict[str, str]]:
    """What is wrong with a draft plan, as ``{"field", "message"}``: a team of the wrong size, a team leader
    outside the team, a cadre in two teams at once, an unknown village, a village with two teams, and every
    administrative village of ``villages`` without a team (003 三(二): "进驻全县各行政村")."""
    problems: list[dict[str, str]] = []
    counted = Counter(c for t in teams for c in t.cadres)
    seen: set[str] = set()
    for i, team in enumerate(teams):
        village = villages.get(team.village)
        if village is None:
            problems.append({"field": f"teams[{i}].village", "message": f"村编码 {team.village} 不存在"})
            continue
        if team.village in seen:
            problems.append({"field": f"teams[{i}].village", "message": f"{village.name}已有工作组，每村一个工作组"})
        seen.add(team.village)
        size = _size_problem(team, village, rules)
        if size:
            problems.append({"field": f"teams[{i}].cadres", "message": size})
        if team.leader is not None and team.leader not in team.cadres:
            problems.append({"field": f"teams[{i}].leader",
                             "message": f"{village.name}工作组组长须是本组驻村干部"})
        for cadre in dict.fromkeys(team.cadres):
            if counted[cadre] > 1:
                problems.append({"field": f"teams[{i}].cadres", "message":
                                 f"{names.get(cadre, cadre)}同时在{counted[cadre]}个工作组，驻村干部同一时间只能在一个工作组"})
    for code, village in sorted(villages.items()):
        if code not in seen:
            problems.append({"field": "teams", "message": f"{village.name}（{code}）还没有驻村工作组"})
    return problems


def unit_share_problem(unit_name: str, establishment: int, sent: int, rules: StationingRules) -> str | None:
    """Whether a county unit sends about ``unit_share_percent`` (20%左右) of its establishment (003 三(二)),
    within ``unit_share_tolerance`` points either side; the message names the range expected."""
    low = establishment * max(rules.unit_share_percent - rules.unit_share_tolerance, 0) / 100
    high = establishment * min(rules.unit_share_percent + rules.unit_share_tolerance, 100) / 100
    if low <= sent <= high:
        return None
    return (f"{unit_name}编制{establishment}人，应选派在编干部的{rules.unit_share_percent}%左右"
            f"（{math.ceil(low)}至{math.floor(high)}名），现选派{sent}名")
