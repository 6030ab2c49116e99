"""The stationing plan's rules (003 三(二)): team size by collective income and the weak list, a cadre in one
team at a time, every village with a team, the unit's share of its establishment, arrival days."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from domain.definitions import load_definition
from domain.stationing import StationingRules, Team, VillageFacts, required_team_size, team_problems, unit_share_problem

SHIPPED = Path(__file__).resolve().parents[2] / "definitions" / "cadres_in_villages.yaml"

RULES = StationingRules()
RICH = VillageFacts("V1", "杨李家村", 45_000)
POOR = VillageFacts("V2", "张王庄村", 22_000)
WEAK = VillageFacts("V3", "陈刘坪村", 80_000, weak=True)
NAMES = {"A": "王建国", "B": "李海燕", "C": "张志强", "D": "刘丽华", "E": "陈明亮", "F": "杨秀英", "G": "黄文斌"}


def test_team_size_follows_income_and_the_weak_list() -> None:
    assert required_team_size(RICH, RULES) == 1
    assert required_team_size(POOR, RULES) == 3
    assert required_team_size(VillageFacts("V", "村", 30_000), RULES) == 1  # 3万元以上: at the threshold, one
    assert required_team_size(WEAK, RULES) == 3
    assert required_team_size(VillageFacts("V", "村", None), RULES) is None


def test_a_valid_plan_has_no_problems() -> None:
    teams = [Team("V1", ("A",), "A"), Team("V2", ("B", "C", "D"), "B"), Team("V3", ("E", "F", "G"), "E")]
    assert team_problems(teams, {v.code: v for v in (RICH, POOR, WEAK)}, NAMES, RULES) == []


def test_each_problem_of_a_plan_is_named_in_chinese() -> None:
    teams = [Team("V1", ("A", "B"), "C"), Team("V2", ("B",), None), Team("V9", ("D",))]
    villages = {v.code: v for v in (RICH, POOR, WEAK, VillageFacts("V4", "周吴沟村", None))}
    assert team_problems(teams, villages, NAMES, RULES) == [
        {"field": "teams[0].cadres", "message": "杨李家村工作组应有1名驻村干部（该村集体经济年纯收入45000元，不低于30000元），现有2名"},
        {"field": "teams[0].leader", "message": "杨李家村工作组组长须是本组驻村干部"},
        {"field": "teams[0].cadres", "message": "李海燕同时在2个工作组，驻村干部同一时间只能在一个工作组"},
        {"field": "teams[1].cadres", "message": "张王庄村工作组应有3名驻村干部（该村集体经济年纯收入22000元，低于30000元），现有1名"},
        {"field": "teams[1].cadres", "message": "李海燕同时在2个工作组，驻村干部同一时间只能在一个工作组"},
        {"field": "teams[2].village", "message": "村编码 V9 不存在"},
        {"field": "teams", "message": "陈刘坪村（V3）还没有驻村工作组"},
        {"field": "teams", "message": "周吴沟村（V4）还没有驻村工作组"},
    ]
    weak_alone = team_problems([Team("V3", ("A",))], {"V3": WEAK}, NAMES, RULES)
    assert weak_alone == [{"field": "teams[0].cadres", "message": "陈刘坪村工作组应有3名驻村干部（该村在后进薄弱村名单上），现有1名"}]
    unknown = team_problems([Team("V4", ("A",))], {"V4": villages["V4"]}, NAMES, RULES)
    assert unknown[0]["message"] == "周吴沟村的集体经济年纯收入未填写，无法确定工作组人数，请先在组织架构中填写"


def test_a_unit_sends_about_a_fifth_of_its_establishment() -> None:
    assert unit_share_problem("县农业农村局", 60, 12, RULES) is None
    assert unit_share_problem("县农业农村局", 60, 9, RULES) is None  # 15%: still “左右”
    assert unit_share_problem("县农业农村局", 60, 8, RULES) == "县农业农村局编制60人，应选派在编干部的20%左右（9至15名），现选派8名"
    assert unit_share_problem("县财政局", 45, 12, RULES) == "县财政局编制45人，应选派在编干部的20%左右（7至11名），现选派12名"


def test_arrival_days_and_the_definition_settings() -> None:
    assert RULES.arrival_due(2027, first_batch=True) == dt.date(2027, 1, 8)
    later = StationingRules(later_arrival=(1, 20))
    assert later.arrival_due(2028, first_batch=False) == dt.date(2028, 1, 20)
    settings = load_definition(SHIPPED).stationing
    assert settings == StationingRules()  # the YAML states 003's numbers, which are the defaults
