"""Targets (domain/targets.py and the ``targets:`` schema): the comparisons, each aggregation, years running, a blank
threshold, names counted in a text, and definitions that break the one scale for percentages refused at load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from domain.definitions import Target, load_definitions
from domain.errors import DefinitionError, ValidationFailed
from domain.forms import validate_form
from domain.targets import Reading, TargetFacts, count_names, evaluate, period_label, requirement, show_number
from domain.vocabulary import TargetStatus

DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"


def target(**kw: Any) -> Target:
    base: dict[str, Any] = {"key": "t", "name": "指标", "unit": "count", "threshold": 2, "field": "f.x"}
    return Target.model_validate(base | kw)


def villages(*values: float | None, previous: tuple[tuple[float | None, ...], ...] = ()) -> TargetFacts:
    names = ["石门村", "龙潭村", "杨柳村", "河口村"]
    return TargetFacts(readings=tuple(
        Reading(v, "整顿验收销号申请（编号7）“各村入党积极分子人数”", label=names[i], code=f"QX0100{i + 1}",
                previous=previous[i] if previous else ()) for i, v in enumerate(values)))


def test_per_township_each_report_must_meet_the_threshold() -> None:
    visits = target(unit="times", threshold=3)
    two = TargetFacts(readings=(Reading(4, "上半年报告", label="2025年6月"), Reading(2, "下半年报告", label="2025年12月")))
    result = evaluate(visits, two)
    assert result.status is TargetStatus.NOT_MET
    assert result.value == "2025年6月：4次；2025年12月：2次"
    assert result.shortfalls == ("2025年12月：2次",)
    assert result.figure == 2
    assert result.evidence == ("上半年报告", "下半年报告")
    assert evaluate(visits, TargetFacts(readings=(Reading(3, "报告"),))).status is TargetStatus.MET


def test_no_submission_is_no_data_and_says_why() -> None:
    result = evaluate(target(), TargetFacts(missing="尚无审核通过的“自查总结”"))
    assert (result.status, result.value, result.evidence) == (TargetStatus.NO_DATA, "无数据", ("尚无审核通过的“自查总结”",))
    assert result.status.label == "无数据"


def test_a_blank_threshold_shows_the_figure_and_waits_for_the_county() -> None:
    result = evaluate(target(threshold=None, unit="times"), TargetFacts(readings=(Reading(120, "自查总结"),)))
    assert (result.status, result.value) == (TargetStatus.UNSET, "120次")
    assert result.status.label == "目标值待设定"
    assert requirement(target(threshold=None)) == "全乡镇（目标值待设定）"


def test_at_most_compares_the_other_way() -> None:
    at_most = target(comparison="<=", threshold=0)
    assert evaluate(at_most, TargetFacts(readings=(Reading(0, "e"),))).status is TargetStatus.MET
    assert evaluate(at_most, TargetFacts(readings=(Reading(1, "e"),))).status is TargetStatus.NOT_MET


def test_every_village_must_meet_a_per_village_target() -> None:
    activists = target(aggregation="per_village", villages="listed")
    result = evaluate(activists, villages(3, 1, 2))
    assert result.status is TargetStatus.NOT_MET
    assert result.value == "2/3 个村达到"
    assert result.shortfalls == ("龙潭村：1",)
    assert result.requirement == "每个整顿村 ≥ 2"
    assert evaluate(activists, villages(3, 2)).status is TargetStatus.MET


def test_a_village_without_figures_leaves_the_target_without_a_verdict() -> None:
    result = evaluate(target(aggregation="per_village"), villages(3, None))
    assert result.status is TargetStatus.NO_DATA
    assert result.value == "1/2 个村达到，1 个村无数据（龙潭村）"
    assert evaluate(target(aggregation="per_village"), villages(1, None)).status is TargetStatus.NOT_MET


def test_no_village_to_assess_is_no_data() -> None:
    result = evaluate(target(aggregation="per_village"), TargetFacts())
    assert result.status is TargetStatus.NO_DATA
    assert result.evidence == ("本年度没有需要考核的村",)


def test_two_blank_years_running_fail_one_does_not() -> None:
    """000 §二.2 尽量避免连续两年出现发展党员空白村: only a village blank this year and the year before fails."""
    gap = target(aggregation="per_village", villages="listed", threshold=1, consecutive_years=2)
    result = evaluate(gap, villages(0, 0, 2, 0, previous=((0,), (1,), (0,), (None,))))
    assert result.status is TargetStatus.NOT_MET
    assert result.shortfalls == ("石门村：0（此前：0）",)
    assert result.value == "连续2年未达到的村 1 个（共 4 个村）"
    assert result.requirement == "每个整顿村 ≥ 1，不得连续2年未达到"
    assert evaluate(gap, villages(0, previous=((),))).status is TargetStatus.MET  # no year before: not two running


def test_share_of_villages_is_a_percent_of_the_townships_villages() -> None:
    five_good = target(aggregation="share_of_villages", unit="percent", threshold=80)
    listed = TargetFacts(readings=(Reading(8, "验收申请", label="石门村、龙潭村"),), villages_total=10)
    result = evaluate(five_good, listed)
    assert (result.status, result.value, result.figure) == (TargetStatus.MET, "80%（8/10个村）", 80.0)
    short = evaluate(five_good, TargetFacts(readings=(Reading(7, "验收申请"),), villages_total=10))
    assert short.status is TargetStatus.NOT_MET and short.value == "70%（7/10个村）"


def test_numbers_and_periods_read_as_the_county_writes_them() -> None:
    assert [show_number(93.5, "percent"), show_number(3.0), show_number(30000, "yuan"), show_number(None)] == \
        ["93.5%", "3", "30000元", "无数据"]
    assert [period_label(p) for p in ("2025", "2025Q4", "2025-06", "2025-W05")] == \
        ["2025年", "2025年第4季度", "2025年6月", "2025年第5周"]


@pytest.mark.parametrize(("text", "count"), [
    ("县农业农村局、县供销社", 2), ("县农业农村局，县供销社；县林业局", 3), ("无", 0), ("暂无", 0), ("", 0), (None, 0),
    ("县农业农村局、无", 1),
])
def test_names_listed_in_a_text_are_counted(text: str | None, count: int) -> None:
    assert count_names(text) == count


# ---- the schema: one scale for percentages, fields that exist and fit ------------------------------------------


def _broken(tmp_path: Path, name: str, index: int, **changes: Any) -> str:
    data = yaml.safe_load((DEFINITIONS / f"{name}.yaml").read_text(encoding="utf-8"))
    data["targets"][index].update(changes)
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        load_definitions(tmp_path)
    return str(caught.value)


def test_a_percent_threshold_written_as_a_fraction_is_refused_at_load(tmp_path: Path) -> None:
    message = _broken(tmp_path, "five_good_model_site", 1, threshold=0.9)
    assert "five_good_model_site.yaml: targets[1]: threshold: 0.9 looks like a fraction; percentages are 0–100" in message


def test_a_percent_threshold_over_100_is_refused_at_load(tmp_path: Path) -> None:
    assert "on the scale 0–100 (90 means 90%), not 120" in _broken(tmp_path, "five_good_model_site", 1, threshold=120)


def test_a_target_reading_an_unknown_field_is_refused_at_load(tmp_path: Path) -> None:
    message = _broken(tmp_path, "weak_village_rectification", 1, field="acceptance_application.no_such_field")
    assert "weak_village_rectification.yaml: targets[1].field: unknown form field 'acceptance_application.no_such_field'" in message


def test_a_target_on_another_scale_than_its_field_is_refused_at_load(tmp_path: Path) -> None:
    message = _broken(tmp_path, "cadres_in_villages", 0, unit="growth")
    assert "targets[0].unit: 'annual_summary.cross_appointment_rate' is measured in percent, the target in growth" in message


def test_a_per_village_target_needs_figures_per_village(tmp_path: Path) -> None:
    message = _broken(tmp_path, "weak_village_rectification", 1, field="acceptance_application.five_good_villages")
    assert "a per_village target reads a field of type village_numbers, number, text, not villages" in message


def test_the_shipped_targets_each_read_a_field() -> None:
    for definition in load_definitions(DEFINITIONS).values():
        for t in definition.targets:
            assert t.source and t.field, (definition.key, t.key)
            if t.unit == "percent" and t.threshold is not None:
                assert 1 <= t.threshold <= 100, (definition.key, t.key)


# ---- the forms: percentages 0–100 and a number per village ---------------------------------------------------------


def _form(key: str, form: str) -> Any:
    return load_definitions(DEFINITIONS)[key].form(form)


def test_a_percentage_above_100_is_refused_with_what_to_write() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_form(_form("five_good_model_site", "application"), {"satisfaction_rate": 0.93 * 1000}, complete=False)
    assert caught.value.errors == [{"field": "data.satisfaction_rate",
                                    "message": "“群众满意率（%）”应在0到100之间（按百分数填写，如 90 表示 90%）"}]


def test_a_number_per_village_is_checked_village_by_village() -> None:
    form = _form("weak_village_rectification", "acceptance_application")
    ok = validate_form(form, {"activists_by_village": {"QX01003": 3, "QX01007": 2.0}}, complete=False,
                       villages=["QX01003", "QX01007"])
    assert ok == {"activists_by_village": {"QX01003": 3, "QX01007": 2}}
    with pytest.raises(ValidationFailed) as caught:
        validate_form(form, {"activists_by_village": {"QX01003": -1, "QX02001": 1}}, complete=False, villages=["QX01003"])
    assert caught.value.errors[0]["message"] == "“各村入党积极分子人数”中的村编码不属于本乡镇：QX02001"
    with pytest.raises(ValidationFailed) as caught:
        validate_form(form, {"new_members_by_village": {"QX01003": 1.5}}, complete=False, villages=["QX01003"])
    assert caught.value.errors[0]["message"] == "“各村本年度发展党员人数”中 QX01003 的数字应为不小于0的整数"
