"""The campaign definitions shipped in ``definitions/``: they load, resolve to the documented
windows and deadlines on China's official calendar, and broken copies fail with the file name and
the field path in the message."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from domain.calendar import WorkCalendar
from domain.definitions import Definition, load_definition, load_definitions
from domain.errors import DefinitionError
from domain.planning import CampaignPlan, ObligationPlan, OrgRef, plan_campaign, plan_listed

REPO = Path(__file__).resolve().parents[2]
DEFINITIONS = REPO / "definitions"
SHIPPED = {"weak_village_rectification", "five_good_model_site", "cadres_in_villages"}

TOWNSHIP = OrgRef(code="QX01", name="青石镇", kind="township")
VILLAGES = [
    OrgRef(code="QX01001", name="石门村", kind="village", key_contact_class="B"),
    OrgRef(code="QX01002", name="龙潭村", kind="village", key_contact_class="C"),
    OrgRef(code="QX01003", name="杨柳村", kind="village"),
    OrgRef(code="QX01004", name="河口村", kind="village", key_contact_class="C", collective_income=20000),
    OrgRef(code="QX01005", name="新街村", kind="village", collective_income=50000),
]
BEFORE_LAUNCH = dt.date(2024, 12, 1)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def definitions() -> dict[str, Definition]:
    return load_definitions(DEFINITIONS)


def plan(key: str, year: int = 2025, today: dt.date = BEFORE_LAUNCH) -> CampaignPlan:
    return plan_campaign(definitions()[key], TOWNSHIP, VILLAGES, year, WorkCalendar(), today)


def of_rule(p: CampaignPlan, rule_key: str) -> list[ObligationPlan]:
    return [o for o in p.obligations if o.rule_key == rule_key]


# --- loading --------------------------------------------------------------------------------------


def test_all_three_definitions_load() -> None:
    loaded = definitions()
    assert set(loaded) >= SHIPPED
    for key in SHIPPED:
        definition = loaded[key]
        assert definition.version == 1
        assert definition.sources, f"{key} cites no source document"
        cited = definition.sources
        assert all(re.fullmatch(r"\d{3}_[0-9a-f]{16}\.txt", s) for s in cited), cited


def _walk_keys(node: Any, path: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for k, v in node.items():
            found.append((f"{path}.{k}" if path else str(k), str(k)))
            if k == "key" and isinstance(v, str):
                found.append((f"{path}.key value", v))
            found.extend(_walk_keys(v, f"{path}.{k}" if path else str(k)))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found.extend(_walk_keys(item, f"{path}[{i}]"))
    return found


@pytest.mark.parametrize("key", sorted(SHIPPED))
def test_keys_are_identifiers_and_user_strings_are_chinese(key: str) -> None:
    raw = yaml.safe_load((DEFINITIONS / f"{key}.yaml").read_text(encoding="utf-8"))
    assert raw["key"] == key
    bad = [(where, k) for where, k in _walk_keys(raw) if not re.fullmatch(r"[a-z][a-z0-9_]*", k)]
    assert bad == []
    definition = definitions()[key]
    cjk = re.compile(r"[\u4e00-\u9fff]")
    texts = [definition.name]
    texts += [s.name for s in definition.stages] + [g.name for g in definition.gates]
    texts += [f.name for f in definition.forms] + [fld.label for f in definition.forms for fld in f.fields]
    texts += [o.title for o in definition.obligations] + [t.name for t in definition.targets]
    texts += [level.name for level in definition.escalation.ladder]
    assert all(cjk.search(t) for t in texts)


# --- five-good model site (002, 001) ---------------------------------------------------------------


def test_five_good_stages_resolve_for_2025() -> None:
    definition = definitions()["five_good_model_site"]
    windows = [(s.key, s.opens.resolve(2025), s.closes.resolve(2025)) for s in definition.stages]
    assert windows == [
        ("mobilize", d("2025-01-01"), d("2025-03-31")),
        ("implement", d("2025-04-01"), d("2025-10-31")),
        ("inspect", d("2025-11-01"), d("2026-03-31")),
    ]
    planned = [(s.key, s.opens_on, s.closes_on, s.status) for s in plan("five_good_model_site").stages]
    assert planned == [(k, o, c, "pending") for k, o, c in windows]


def test_five_good_application_gate_is_the_six_no_approvals() -> None:
    definition = definitions()["five_good_model_site"]
    assert definition.stage("inspect").gate == "application"
    gate = next(g for g in definition.gates if g.key == "application")
    assert [c.kind for c in gate.checks] == [
        "self_check", "public_notice", "satisfaction", "veto", "standard", "standard",
    ]
    checks = {c.kind: c for c in gate.checks}
    assert checks["public_notice"].days is None  # blank in 001: the reviewer confirms the period
    assert checks["satisfaction"].threshold == 90  # blank in 001; 002's 90% is the shipped default, percent 0–100
    assert (checks["self_check"].form, checks["self_check"].score_field) == ("self_check_summary", "score")
    assert gate.veto_ban_years == 3
    assert gate.requires == ["implementation_plan"]
    assert [level.level for level in gate.review_chain] == ["township", "county"]


def test_stage_order_is_declared_by_requires() -> None:
    gates = {key: {g.key: g.requires for g in d.gates} for key, d in definitions().items()}
    assert gates["weak_village_rectification"] == {
        "weak_village_list": [], "village_plan": ["weak_village_list"], "acceptance_application": ["village_plan"]}
    assert gates["five_good_model_site"]["application"] == ["implementation_plan"]


def test_five_good_deadlines_2025() -> None:
    p = plan("five_good_model_site")
    assert p.warnings == []
    assert [o.due_on for o in of_rule(p, "implementation_plan")] == [d("2025-03-31")]
    assert [o.due_on for o in of_rule(p, "self_check_summary")] == [d("2026-01-15")]
    assert [o.due_on for o in of_rule(p, "application")] == [d("2026-03-31")]
    monthly = {o.period: o.due_on for o in of_rule(p, "ledger_progress")}
    # every month end from April 2025 (stage implement) to March 2026 (end of stage inspect)
    assert list(monthly) == [f"2025-{m:02d}" for m in range(4, 13)] + ["2026-01", "2026-02", "2026-03"]
    assert monthly["2025-05"] == d("2025-05-30")  # 31 May 2025 is a Saturday
    assert monthly["2025-08"] == d("2025-08-29")  # 31 Aug 2025 is a Sunday
    assert monthly["2026-02"] == d("2026-02-28")  # a make-up working Saturday (调休)
    targets = {t.key: t.threshold for t in definitions()["five_good_model_site"].targets}
    assert targets["unposted_member_participation"] == 80 and targets["public_satisfaction"] == 90
    assert targets["farmer_training_attendance"] is None  # "xx" in 002


# --- weak-village rectification (000, 004) ---------------------------------------------------------


def test_weak_village_fixed_deadlines_and_quarterly_form() -> None:
    definition = definitions()["weak_village_rectification"]
    fixed = {
        o.kind: (o.due.month, o.due.day, o.due.year_offset)  # type: ignore[union-attr]
        for o in definition.obligations
        if o.due.rule == "fixed" and o.kind in {"list", "plan"}
    }
    assert fixed == {"list": (10, 10, 0), "plan": (10, 24, 0)}
    quarterly = next(o for o in definition.obligations if o.kind == "quarterly_report")
    assert quarterly.form is not None
    form = definition.form(quarterly.form)
    assert [(f.key, f.label, f.type.value, f.required) for f in form.fields] == [
        ("basic_situation", "基本情况", "textarea", True),
        ("results", "取得的成效", "textarea", True),
        ("main_problems", "存在的主要问题", "textarea", True),
        ("next_steps", "下步打算", "textarea", True),
    ]
    gate = next(g for g in definition.gates if g.key == definition.stage("planning").gate)
    assert gate.max_return_rounds == 2
    assert [level.level for level in gate.review_chain] == ["township", "county"]
    assert [c.kind for c in gate.checks].count("standard") == 3  # 三个不放过
    ladder = definition.escalation.ladder
    assert [level.name[:2] for level in ladder] == ["催办", "督办", "约谈", "通报", "问责"]
    assert ladder[1].document == "supervision_order" and ladder[1].new_deadline_workdays
    assert ladder[-1].opens_case and not any(level.opens_case for level in ladder[:-1])
    triggers = definition.escalation.triggers
    assert all(t.enabled for t in [triggers.zero_report, triggers.hollow_report, triggers.unverified,
                triggers.returns_exceeded, triggers.measures_overdue, triggers.relapse])
    # 004 §一.3 直接约谈: slow measures open at the interview; 000 §四(二)(三): hollow reports start a reminder
    # ladder at 催办; a zero report of the list waits at 问责 for the county's check.
    assert definition.escalation.level_index("measures_overdue") == 3 and ladder[2].key == "interview"
    assert definition.escalation.level_index("hollow_report") == 1
    assert triggers.zero_report.forms == ["weak_village_list"]
    assert triggers.hollow_report.forms == ["quarterly_report", "weekly_report"]


def test_weak_village_plan_2025_on_the_official_calendar() -> None:
    p = plan("weak_village_rectification")
    assert [(s.key, s.opens_on, s.closes_on) for s in p.stages] == [
        ("screening", d("2025-09-01"), d("2025-10-10")),
        ("planning", d("2025-10-11"), d("2025-10-24")),
        ("rectification", d("2025-10-25"), d("2026-09-30")),
        ("acceptance", d("2026-10-01"), d("2026-12-31")),
    ]
    by_kind: dict[str, list[ObligationPlan]] = {}
    for o in p.obligations:
        by_kind.setdefault(o.kind, []).append(o)
    assert [(o.subject_code, o.due_on) for o in by_kind["list"]] == [("QX01", d("2025-10-10"))]
    assert "plan" not in by_kind and "weekly_report" not in by_kind  # owed by the villages the list approves
    quarterly = {o.period: (o.nominal_due_on, o.due_on) for o in by_kind["quarterly_report"]}
    assert quarterly == {
        "2025Q4": (d("2025-12-20"), d("2025-12-19")),  # Saturday → Friday
        "2026Q1": (d("2026-03-20"), d("2026-03-20")),
        "2026Q2": (d("2026-06-20"), d("2026-06-18")),  # Saturday; Fri 19 June is the Dragon Boat holiday
        "2026Q3": (d("2026-09-20"), d("2026-09-20")),  # a make-up working Sunday (调休)
        "2026Q4": (d("2026-12-20"), d("2026-12-18")),  # Sunday → Friday
    }
    assert all(o.subject_code == "QX01" for o in by_kind["quarterly_report"])
    assert len({o.key for o in p.obligations}) == len(p.obligations)

    calendar = WorkCalendar()
    assert all(calendar.is_workday(o.due_on) for o in p.obligations)
    assert all(o.status == "scheduled" for o in p.obligations)
    assert p.warnings == []


def test_the_approved_list_owes_a_plan_per_village_and_weekly_reports_of_its_key_contact_villages() -> None:
    """000 §四(二): a 一村一策 plan for each listed village by 24 October; 004 §一.3: the key-contact (B/C) villages
    among them report weekly through concentrated rectification. A B/C village left off the list owes nothing."""
    listed = [VILLAGES[0], VILLAGES[2], VILLAGES[4]]  # QX01001 (B), QX01003, QX01005
    owed = plan_listed(definitions()["weak_village_rectification"], listed, 2025, WorkCalendar(), d("2025-10-13"))
    plans = [(o.subject_code, o.nominal_due_on, o.due_on, o.status) for o in owed if o.kind == "plan"]
    assert plans == [(code, d("2025-10-24"), d("2025-10-24"), "open") for code in ("QX01001", "QX01003", "QX01005")]
    weekly = [o for o in owed if o.kind == "weekly_report"]
    assert {o.subject_code for o in weekly} == {"QX01001"}
    first = min(o.nominal_due_on for o in weekly)
    last = max(o.nominal_due_on for o in weekly)
    assert (first, last, len(weekly)) == (d("2025-10-31"), d("2026-09-25"), 48)  # Fridays within stage rectification
    assert all(o.nominal_due_on.isoweekday() == 5 and o.due_on - o.opens_on <= dt.timedelta(days=6) for o in weekly)
    assert all(o.status == "scheduled" for o in weekly)


def test_a_village_listed_late_gets_time_for_its_plan_and_owes_only_the_weeks_ahead() -> None:
    """Listed on Tuesday 21 October, three working days before the 24th: the plan is due five working days later
    (``listed_late_workdays``); listed on 1 December, the weekly reports of past weeks are not owed."""
    definition = definitions()["weak_village_rectification"]
    late = plan_listed(definition, [VILLAGES[1]], 2025, WorkCalendar(), d("2025-10-21"))
    assert [(o.nominal_due_on, o.due_on, o.status) for o in late if o.kind == "plan"] == [
        (d("2025-10-24"), d("2025-10-28"), "open")]
    december = plan_listed(definition, [VILLAGES[1]], 2025, WorkCalendar(), d("2025-12-01"))
    assert [(o.due_on, o.status) for o in december if o.kind == "plan"] == [(d("2025-12-08"), "open")]
    weekly = [o for o in december if o.kind == "weekly_report"]
    assert {o.status for o in weekly if o.due_on < d("2025-12-01")} == {"waived"}  # not owed: the caller skips them
    assert min(o.due_on for o in weekly if o.status != "waived") == d("2025-12-05")


def test_plans_for_2025_have_no_warnings_but_2026_reaches_into_2027() -> None:
    for key in SHIPPED:
        assert plan(key, 2025).warnings == [], key
    later = plan("weak_village_rectification", 2026, today=dt.date(2025, 12, 1))
    assert any("2027" in w for w in later.warnings)


# --- cadres in villages (003) ----------------------------------------------------------------------


def test_cadres_in_villages_2025() -> None:
    p = plan("cadres_in_villages")
    assert p.warnings == []
    assert [(s.key, s.opens_on, s.closes_on) for s in p.stages] == [
        ("deploy", d("2025-01-01"), d("2025-01-08")),
        ("stationed", d("2025-01-09"), d("2025-12-31")),
        ("assessment", d("2025-12-01"), d("2026-01-31")),
    ]
    assert [(o.kind, o.due_on) for o in of_rule(p, "cadres_on_site")] == [("checkpoint", d("2025-01-08"))]
    assert [o.due_on for o in of_rule(p, "quarterly_report")] == [
        d("2025-03-20"), d("2025-06-20"), d("2025-09-19"), d("2025-12-19"),  # 20 Sep, 20 Dec: Saturdays
    ]
    assert [(o.kind, o.due_on) for o in of_rule(p, "annual_summary")] == [("annual_summary", d("2025-12-31"))]
    assert [o.due_on for o in of_rule(p, "leader_visits")] == [d("2025-06-30"), d("2025-12-31")]
    definition = definitions()["cadres_in_villages"]
    assert {o.submit_to for o in definition.obligations} == {"县委基层办"}
    assert definition.escalation.ladder[-1].opens_case
    targets = {t.key: (t.threshold, t.unit) for t in definition.targets}
    assert targets["collective_income"] == (30000, "yuan")
    assert targets["leader_visits"] == (3, "times")


# --- broken copies ---------------------------------------------------------------------------------


def _set_unknown_gate(data: dict[str, Any]) -> None:
    data["stages"][0]["gate"] = "no_such_gate"


def _feb_31(data: dict[str, Any]) -> None:
    data["stages"][1]["closes"] = {"month": 2, "day": 31}


def _missing_due(data: dict[str, Any]) -> None:
    del data["obligations"][0]["due"]


def _set(*path: Any, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change of one setting: ``_set("gates", 1, "requires", value=[...])``."""
    def mutate(data: dict[str, Any]) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return mutate


def _satisfaction_field_not_in_percent(data: dict[str, Any]) -> None:
    next(f for f in data["forms"][3]["fields"] if f["key"] == "satisfaction_rate").pop("unit")


def _missing_escalation(data: dict[str, Any]) -> None:
    del data["escalation"]


def _extra_field(data: dict[str, Any]) -> None:
    data["stages"][0]["deadline"] = "10月10日"


def _extra_nested_field(data: dict[str, Any]) -> None:
    data["gates"][1]["checks"][0]["weight"] = 1


def _two_judges_of_the_quarterly_report(data: dict[str, Any]) -> None:
    data["escalation"]["triggers"]["zero_report"]["forms"].append("quarterly_report")


def _climb_settings_on_an_event_trigger(data: dict[str, Any]) -> None:
    data["escalation"]["triggers"]["hollow_report"]["after_workdays"] = 1


def _unknown_opening_level(data: dict[str, Any]) -> None:
    data["escalation"]["triggers"]["measures_overdue"]["level"] = "talk"
def _plan_limit_in_unknown_stage(data: dict[str, Any]) -> None:
    plan = next(f for f in data["forms"] if f["key"] == "village_plan")
    next(f for f in plan["fields"] if f["key"] == "time_limit")["within_stage"] = "no_such_stage"


def _substantive_date(data: dict[str, Any]) -> None:
    plan = next(f for f in data["forms"] if f["key"] == "village_plan")
    next(f for f in plan["fields"] if f["key"] == "time_limit")["substantive"] = True


def _listed_township(data: dict[str, Any]) -> None:
    data["obligations"][2]["subject"] = {"kind": "township", "villages": {"listed": True}}


@pytest.mark.parametrize(
    ("name", "mutate", "field", "words"),
    [
        ("weak_village_rectification", _two_judges_of_the_quarterly_report, "escalation.triggers.hollow_report.forms",
         "form 'quarterly_report' is judged by 'zero_report' already"),
        ("weak_village_rectification", _climb_settings_on_an_event_trigger,
         "escalation.triggers.hollow_report.after_workdays", "not permitted"),
        ("weak_village_rectification", _unknown_opening_level, "escalation.triggers.measures_overdue.level",
         "unknown ladder level 'talk'"),
        ("weak_village_rectification", _plan_limit_in_unknown_stage, "forms[1].fields[4].within_stage", "no_such_stage"),
        ("weak_village_rectification", _substantive_date, "forms[1].fields[4]", "substantive does not apply"),
        ("weak_village_rectification", _listed_township, "obligations[2].subject.villages.listed", "kind: village"),
        ("weak_village_rectification", _set_unknown_gate, "stages[0].gate", "no_such_gate"),
        ("weak_village_rectification", _feb_31, "stages[1].closes", "day 31 does not exist in month 2"),
        ("weak_village_rectification", _missing_due, "obligations[0].due", "required"),
        ("five_good_model_site", _missing_escalation, "escalation", "required"),
        ("cadres_in_villages", _extra_field, "stages[0].deadline", "not permitted"),
        ("five_good_model_site", _extra_nested_field, "gates[1].checks[0].weight", "not permitted"),
        ("weak_village_rectification", _set("gates", 1, "requires", value=["no_such_gate"]), "gates[1].requires", "unknown gate 'no_such_gate'"),
        ("weak_village_rectification", _set("gates", 1, "requires", value=["village_plan"]), "gates[1].requires", "unknown gate 'village_plan'"),
        ("weak_village_rectification", _set("gates", 0, "requires", value=["acceptance_application"]), "gates[0].requires",
         "circle: weak_village_list → acceptance_application → village_plan → weak_village_list"),
        ("five_good_model_site", _set("gates", 1, "checks", 2, "threshold", value=0.9), "gates[1].checks[2].threshold", "looks like a fraction"),
        ("five_good_model_site", _set("gates", 1, "checks", 2, "threshold", value=190), "gates[1].checks[2].threshold", "written 0–100"),
        ("weak_village_rectification", _set("targets", 0, "threshold", value=0.9), "targets[0]", "looks like a fraction"),
        ("five_good_model_site", _set("gates", 1, "checks", 1, "end_field", value="summary"), "gates[1].checks[1].end_field", "must be a date field"),
        ("five_good_model_site", _set("gates", 1, "checks", 1, "threshold", value=90), "gates[1].checks[1]", "threshold does not apply"),
        ("five_good_model_site", _set("gates", 1, "checks", 0, "form", value="no_such_form"), "gates[1].checks[0].form", "unknown form 'no_such_form'"),
        ("five_good_model_site", _satisfaction_field_not_in_percent, "gates[1].checks[2].field", "unit: percent"),
    ],
)
def test_broken_copy_names_file_and_field(
    tmp_path: Path, name: str, mutate: Callable[[dict[str, Any]], None], field: str, words: str
) -> None:
    data = yaml.safe_load((DEFINITIONS / f"{name}.yaml").read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        load_definitions(tmp_path)
    message = str(caught.value)
    assert f"{name}.yaml: {field}: " in message, message
    assert words in message, message
    assert {"file": f"{name}.yaml", "field": field}.items() <= caught.value.errors[0].items()


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    text = (DEFINITIONS / "five_good_model_site.yaml").read_text(encoding="utf-8")
    path = tmp_path / "five_good_model_site.yaml"
    path.write_text(text.replace("stages:\n", "stages:\n  - key: [unclosed\n", 1), encoding="utf-8")
    with pytest.raises(DefinitionError) as caught:
        load_definition(path)
    message = str(caught.value)
    assert message.startswith("five_good_model_site.yaml: line ")
    assert "not valid YAML" in message


def test_copy_under_another_file_name_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "renamed.yaml"
    path.write_text((DEFINITIONS / "cadres_in_villages.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"renamed\.yaml: key: "):
        load_definitions(tmp_path)
