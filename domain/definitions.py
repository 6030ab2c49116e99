"""Campaign definitions: the schema of ``definitions/*.yaml`` and its loader.

A definition is data: stages and their windows, the gate that closes each stage, forms,
one-off deadlines, recurring reports, reminder offsets, the escalation ladder and targets.
Every error names the file and the field, e.g. ``five_good.yaml: stages[1].closes.month: ...``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from domain.calendar import DuePolicy, last_day_of_month
from domain.errors import DefinitionError
from domain.hollow import DEFAULT_BOILERPLATE
from domain.schema import FieldType, Key, NumberUnit, Strict, Text
from domain.stationing import StationingRules
from domain.triggers import TRIGGER_LABELS as TRIGGER_LABELS  # re-exported: pages, ledgers and mails read it here
from domain.triggers import TRIGGERS, TriggerSettings, settings_model, text_checks_overlap


class DateSpec(Strict):
    """A calendar day relative to the campaign year: ``{month: 3, day: last, year_offset: 1}``."""

    month: int = Field(ge=1, le=12)
    day: int | Literal["last"] = "last"
    year_offset: int = Field(default=0, ge=0, le=5)

    @model_validator(mode="after")
    def _day_exists(self) -> DateSpec:
        if isinstance(self.day, int) and not 1 <= self.day <= last_day_of_month(2023, self.month):
            raise ValueError(f"day {self.day} does not exist in month {self.month} (use 'last' for month end)")
        return self

    def resolve(self, year: int) -> dt.date:
        y = year + self.year_offset
        day = last_day_of_month(y, self.month) if self.day == "last" else self.day
        return dt.date(y, self.month, day)


class FormField(Strict):
    key: Key
    label: Text
    type: FieldType = FieldType.TEXTAREA
    required: bool = True
    options: list[Text] = Field(default_factory=list)
    min_length: int | None = Field(default=None, ge=0)
    required_when_empty: Key | None = Field(default=None, description="required when this other field is empty")
    unit: NumberUnit | None = Field(default=None, description="what a number field measures; percent is 0–100")
    help: str | None = None
    # Checks of a complete answer (on submission), each refused with a message for the field (domain.forms):
    substantive: bool = Field(default=False, description="a text that is not only stock phrases (the form's "
                              "boilerplate: 无, 暂无, 见附件 …) or the field's own label")
    distinct_per_village: bool = Field(default=False, description="a text not copied from another village's "
                                       "answer to the same form in the campaign (一村一策)")
    within_stage: Key | None = Field(default=None, description="a date inside this stage's window in the campaign")
    names_subject: bool = Field(default=False, description="a villages field naming exactly the village the "
                                "material is about (filled in from it when left empty)")

    @model_validator(mode="after")
    def _select_has_options(self) -> FormField:
        if self.type is FieldType.SELECT and not self.options:
            raise ValueError("a select field needs options")
        if self.unit is not None and self.type not in NUMBER_TYPES:
            raise ValueError(f"unit: only a number or village_numbers field has a unit, not a {self.type.value} field")
        text = (FieldType.TEXT, FieldType.TEXTAREA)
        for flag, ok in (("substantive", self.type in text), ("distinct_per_village", self.type in text),
                         ("within_stage", self.type is FieldType.DATE), ("names_subject", self.type is FieldType.VILLAGES)):
            if getattr(self, flag) and not ok:
                raise ValueError(f"{flag} does not apply to a field of type {self.type.value}")
        return self


NUMBER_TYPES = (FieldType.NUMBER, FieldType.VILLAGE_NUMBERS)


class Form(Strict):
    """What a submission contains: a report, a list, a plan, an application."""

    key: Key
    name: Text
    fields: list[FormField] = Field(min_length=1)
    boilerplate: list[Text] = Field(default_factory=lambda: list(DEFAULT_BOILERPLATE), description=(
        "stock phrases that are no answer in a substantive field (a repeat of the field's label is none either)"))

    @model_validator(mode="after")
    def _unique_fields(self) -> Form:
        _unique((f.key for f in self.fields), "fields")
        keys = {f.key for f in self.fields}
        for i, f in enumerate(self.fields):
            if f.required_when_empty and f.required_when_empty not in keys:
                raise _err(f"fields[{i}].required_when_empty", f"unknown field '{f.required_when_empty}'")
        return self


class ReviewLevel(Strict):
    level: Literal["township", "county"]
    name: Text
    role: Literal["reviewer", "admin"] = "reviewer"


def percent_problem(value: float | None) -> None:
    """Percentages are written on one scale, 0–100 (90 means 90%); a fraction such as 0.9 is refused."""
    if value is None:
        return
    if not 0 <= value <= 100:
        raise ValueError(f"a percentage is written 0–100 (90 means 90%), not {value}")
    if 0 < value < 1:
        raise ValueError(f"a percentage is written 0–100 (90 means 90%); {value} looks like a fraction")


CheckKind = Literal["self_check", "public_notice", "satisfaction", "veto", "standard", "document"]
# The settings each kind of check reads (required, optional); ``standard`` and ``document`` are the reviewer's
# judgement and read none.
CHECK_SETTINGS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "self_check": (frozenset({"form", "score_field"}), frozenset({"field", "min_score"})),
    "public_notice": (frozenset({"start_field", "end_field"}), frozenset({"days"})),
    "satisfaction": (frozenset({"field"}), frozenset({"threshold"})),
    "veto": (frozenset(), frozenset({"field"})),
    "standard": (frozenset(), frozenset()),
    "document": (frozenset(), frozenset()),
}


class GateCheck(Strict):
    """One vetting condition of a gate, e.g. one of the six no-approvals (六个不批, 001). Code evaluates what the
    data allows (``domain.gate_checks``); what it cannot, or a setting the documents leave blank, is the
    reviewer's judgement. Percentages are on one scale, 0–100."""

    key: Key
    name: Text
    kind: CheckKind
    field: Key | None = Field(default=None, description="the gate form's field the check reads")
    start_field: Key | None = Field(default=None, description="public_notice: the date the notice began")
    end_field: Key | None = Field(default=None, description="public_notice: the date it ended")
    days: int | None = Field(default=None, ge=1, le=366, description="public-notice days; blank in 001: the reviewer confirms")
    threshold: float | None = Field(default=None, description="satisfaction in percent (0–100); unset: the reviewer confirms")
    form: Key | None = Field(default=None, description="self_check: the form of the self-check summary")
    score_field: Key | None = Field(default=None, description="self_check: that form's score")
    min_score: float | None = Field(default=None, ge=0, description="self_check: the lowest score accepted; unset: no minimum")
    source: str | None = None

    @field_validator("threshold")
    @classmethod
    def _percent(cls, value: float | None) -> float | None:
        percent_problem(value)
        return value

    @model_validator(mode="after")
    def _settings_fit_the_kind(self) -> GateCheck:
        required, optional = CHECK_SETTINGS[self.kind]
        given = {name for name in ("field", "start_field", "end_field", "days", "threshold", "form", "score_field",
                                   "min_score") if getattr(self, name) is not None}
        for name in sorted(given - required - optional):
            raise ValueError(f"{name} does not apply to a {self.kind} check")
        for name in sorted(required - given):
            raise ValueError(f"a {self.kind} check needs {name}")
        return self


class Gate(Strict):
    key: Key
    name: Text
    form: Key
    review_chain: list[ReviewLevel] = Field(min_length=1)
    max_return_rounds: int = Field(default=2, ge=0, le=10)
    checks: list[GateCheck] = Field(default_factory=list)
    requires: list[Key] = Field(default_factory=list, description="gates that must have passed before this one is approved")
    veto_ban_years: int | None = Field(default=None, ge=0, le=10)
    source: str | None = None

    @model_validator(mode="after")
    def _unique_checks(self) -> Gate:
        _unique((c.key for c in self.checks), "checks")
        return self


class Stage(Strict):
    key: Key
    name: Text
    opens: DateSpec
    closes: DateSpec
    gate: Key | None = None
    description: str | None = None
    source: str | None = None


class StageAnchor(Strict):
    stage: Key
    anchor: Literal["opens", "closes"] = "closes"
    offset_days: int = Field(default=0, ge=-366, le=366)


class FixedRule(Strict):
    rule: Literal["fixed"]
    month: int = Field(ge=1, le=12)
    day: int | Literal["last"]
    year_offset: int = Field(default=0, ge=0, le=5)

    def spec(self) -> DateSpec:
        return DateSpec(month=self.month, day=self.day, year_offset=self.year_offset)


class QuarterLastMonthRule(Strict):
    """Day N of the last month of each quarter (每季度最后一个月的20日前, 000)."""

    rule: Literal["quarter_last_month"]
    day: int = Field(default=20, ge=1, le=30)


class MonthlyRule(Strict):
    """Day N (or the last day) of each month, optionally only some months (每月底上报, 001)."""

    rule: Literal["monthly"]
    day: int | Literal["last"] = "last"
    months: list[Annotated[int, Field(ge=1, le=12)]] | None = None


class WeeklyRule(Strict):
    """Every week on a weekday, 1 = Monday … 7 = Sunday (周报制度, 004)."""

    rule: Literal["weekly"]
    weekday: int = Field(ge=1, le=7)


class RelativeToStageRule(Strict):
    rule: Literal["relative_to_stage"]
    stage: Key
    anchor: Literal["opens", "closes"] = "closes"
    offset_days: int = Field(default=0, ge=-366, le=366)


DueRule = Annotated[
    FixedRule | QuarterLastMonthRule | MonthlyRule | WeeklyRule | RelativeToStageRule,
    Field(discriminator="rule"),
]
RECURRING_RULES = (QuarterLastMonthRule, MonthlyRule, WeeklyRule)


class VillageFilter(Strict):
    key_contact_class: list[Literal["B", "C"]] | None = None
    max_collective_income: int | None = Field(default=None, ge=0)
    listed: bool = Field(default=False, description=(
        "only the villages on the campaign's approved list (the villages of its list obligation): owed from the "
        "list's approval on and following its later changes, not planned at launch"))


class Subject(Strict):
    """Whose obligation it is: the township itself, or each village of it that matches."""

    kind: Literal["township", "village"] = "township"
    villages: VillageFilter | None = None


class Reminders(Strict):
    offsets: list[Annotated[int, Field(ge=0, le=60)]] = Field(default_factory=lambda: [7, 3, 1, 0])
    unit: Literal["workdays", "days"] = "workdays"


class ReviewSpec(Strict):
    """The review chain of an obligation whose form is not its stage's gate form."""

    chain: list[ReviewLevel] = Field(min_length=1)
    max_return_rounds: int = Field(default=2, ge=0, le=10)


DEFAULT_REVIEW = ReviewSpec(chain=[ReviewLevel(level="county", name="县委组织部审核", role="reviewer")])


class Obligation(Strict):
    """A deadline: one-off (a fixed or stage-relative rule) or recurring (quarterly, monthly, weekly)."""

    key: Key
    title: Text
    kind: Literal[
        "list", "plan", "quarterly_report", "weekly_report", "monthly_report",
        "annual_summary", "deliverable", "application", "checkpoint",
    ]
    form: Key | None = None
    due: DueRule
    policy: DuePolicy = DuePolicy.PREVIOUS_WORKDAY
    during: list[Key] = Field(default_factory=list, description="recurring: the stages whose window bounds it")
    stage: Key | None = None
    opens_days_before: int = Field(default=14, ge=0, le=366)
    subject: Subject = Field(default_factory=Subject)
    submit_to: Text = "县委组织部"
    reminders: Reminders | None = None
    review: ReviewSpec | None = None
    acknowledge: bool = Field(default=False, description=(
        "the township signs for it (签收) when it opens, within DUBAN_DESK_ACK_WORKDAYS working days, on the 督办 "
        "desk's sign-for ladder (tasks.desk.signing)"))
    listed_late_workdays: int = Field(default=5, ge=1, le=60, description=(
        "owed by listed villages: a village listed after this deadline, or fewer working days before it, "
        "answers within this many working days of being listed (a recurring report owes only the periods ahead)"))
    source: str | None = None

    @property
    def recurring(self) -> bool:
        return isinstance(self.due, RECURRING_RULES)

    @property
    def listed(self) -> bool:
        """Owed by each village on the campaign's approved list (``subject.villages.listed``)."""
        return self.subject.kind == "village" and self.subject.villages is not None and self.subject.villages.listed


class EscalationRecipient(Strict):
    role: Literal[
        "submitter", "township_secretary", "township_leader", "reviewer", "admin", "county_leader",
    ]
    scope: Literal["township", "county"] = "township"


class EscalationLevel(Strict):
    key: Key
    name: Text
    after_workdays: int = Field(ge=0, le=366, description="working days after the previous level")
    recipients: list[EscalationRecipient] = Field(min_length=1)
    document: Key | None = None
    new_deadline_workdays: int | None = Field(default=None, ge=1, le=60)
    opens_case: bool = False


if TYPE_CHECKING:
    EscalationTriggers = TriggerSettings
else:
    EscalationTriggers = settings_model(TRIGGERS)  # one field per trigger declared in domain.triggers

DOCUMENT_KINDS = {
    "urging_notice": "催办通知", "supervision_order": "督办单", "interview_notice": "约谈通知", "county_notice": "通报",
}


class Escalation(Strict):
    ladder: list[EscalationLevel] = Field(min_length=1)
    triggers: EscalationTriggers = Field(default_factory=EscalationTriggers)
    source: str | None = None

    @model_validator(mode="after")
    def _unique_levels(self) -> Escalation:
        _unique((level.key for level in self.ladder), "ladder")
        keys = [level.key for level in self.ladder]
        for name, spec in self.triggers.specs():
            if spec.level is not None and spec.level not in keys:
                raise _err(f"escalation.triggers.{name}.level", f"unknown ladder level '{spec.level}'")
        for i, level in enumerate(self.ladder):
            if level.document is not None and level.document not in DOCUMENT_KINDS:
                raise _err(f"escalation.ladder[{i}].document", f"unknown document '{level.document}' (one of {', '.join(DOCUMENT_KINDS)})")
        return self

    def level_index(self, trigger: str) -> int:
        """The 1-based ladder level a trigger opens at."""
        spec = getattr(self.triggers, trigger)
        if spec.level is None:
            return 1
        return [level.key for level in self.ladder].index(spec.level) + 1


ORG_FIELDS = {"collective_income": ("村集体经济年纯收入", "yuan")}
"""Figures of the org data a target may read (``field: org.<name>``): their label and unit."""

RECORD_FIELDS = {"leader_visits": ("县领导每半年到挂钩联系点次数", "times")}
"""Figures of the work records a target may read (``field: records.<name>``), per township: their label and unit.
``records.leader_visits`` reads each county leader's visits to the contact village per half-year of the campaign
year from the visit records (003 §三(一)); every such figure must meet the threshold, so the township's value is
its lowest (the minimum over its county leaders and half-years)."""

TARGET_FIELD_TYPES = {
    "per_township": (FieldType.NUMBER,),
    "per_village": (FieldType.VILLAGE_NUMBERS, FieldType.NUMBER, FieldType.TEXT),
    "share_of_villages": (FieldType.VILLAGES,),
}
"""What a target's field may be, by aggregation: one number per township submission; a number per village (a
table of the township's villages, or the number or the names listed in each village's own submission); the
villages listed as meeting the standard."""


class Target(Strict):
    """A goal the documents set, evaluated from what the townships submit (or from the org data).

    ``field`` names where the figure is: ``<form>.<field>`` of this definition, or ``org.<name>``. The
    ``aggregation`` says how: one figure per township (``per_township``: every approved submission of the form
    in the campaign must meet it, e.g. each half-year's report), every village (``per_village``: the villages of
    the township, or with ``villages: listed`` those on the campaign's approved list), or the share of the
    township's villages that a submission lists (``share_of_villages``, in percent). ``consecutive_years: 2``
    makes a village fail only when it misses the threshold that many campaign years running (the years before
    are read from the same definition's earlier campaigns of the township). Percentages are on one scale,
    0–100, here and in the forms."""

    key: Key
    name: Text
    comparison: Literal[">=", "<="] = ">="
    threshold: float | None = Field(default=None, description="blank ('xx') in the documents: set locally")
    unit: NumberUnit
    aggregation: Literal["per_township", "per_village", "share_of_villages"] = "per_township"
    villages: Literal["township", "listed"] = "township"
    field: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}\.[a-z][a-z0-9_]{0,63}$",
                       description="<form>.<field>, org.<name> or records.<name>: where the figure is read")
    consecutive_years: int | None = Field(default=None, ge=2, le=5)
    period: Literal["year", "half_year", "campaign", "three_years", "five_years"] = "year"
    source: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Target:
        if self.threshold is not None:
            low, high = {"percent": (0, 100), "growth": (-100, None)}.get(self.unit, (0, None))
            if self.threshold < low or (high is not None and self.threshold > high):
                scale = "0–100 (90 means 90%)" if self.unit == "percent" else f"at least {low}"
                raise ValueError(f"threshold: a {self.unit} threshold is on the scale {scale}, not {self.threshold:g}")
            if self.unit == "percent" and 0 < self.threshold < 1:
                raise ValueError(f"threshold: {self.threshold:g} looks like a fraction; percentages are 0–100 (write 90 for 90%)")
        if self.aggregation == "share_of_villages" and self.unit != "percent":
            raise ValueError("unit: a share of villages is a percent")
        if self.villages == "listed" and self.aggregation != "per_village":
            raise ValueError("villages: 'listed' is for per_village targets")
        if self.consecutive_years is not None and self.aggregation != "per_village":
            raise ValueError("consecutive_years: only a per_village target counts years running")
        return self

    @property
    def form_key(self) -> str:
        return self.field.split(".", 1)[0]

    @property
    def field_key(self) -> str:
        return self.field.split(".", 1)[1]


def _target_problem(target: Target, forms: dict[str, Form]) -> tuple[str, str] | None:
    """(the attribute, what is wrong) when a target's field does not fit it; None when it does."""
    if target.form_key == "org":
        known = ORG_FIELDS.get(target.field_key)
        if known is None:
            return "field", f"the org data has no '{target.field_key}'; known: {sorted(ORG_FIELDS)}"
        if target.aggregation != "per_village" or known[1] != target.unit:
            return "field", f"org.{target.field_key} is a per_village figure in {known[1]}"
        return None
    if target.form_key == "records":
        record = RECORD_FIELDS.get(target.field_key)
        if record is None:
            return "field", f"the work records have no '{target.field_key}'; known: {sorted(RECORD_FIELDS)}"
        if target.aggregation != "per_township" or record[1] != target.unit:
            return "field", f"records.{target.field_key} is a per_township figure in {record[1]}"
        return None
    form = forms.get(target.form_key)
    field = next((f for f in form.fields if f.key == target.field_key), None) if form else None
    if form is None or field is None:
        return "field", f"unknown form field '{target.field}'"
    if field.type not in TARGET_FIELD_TYPES[target.aggregation]:
        allowed = ", ".join(t.value for t in TARGET_FIELD_TYPES[target.aggregation])
        return "field", f"a {target.aggregation} target reads a field of type {allowed}, not {field.type.value}"
    if field.unit is not None and field.unit != target.unit:
        return "unit", f"'{target.field}' is measured in {field.unit}, the target in {target.unit}: one scale for both"
    return None


class Definition(Strict):
    key: Key
    name: Text
    version: int = Field(ge=1)
    description: str | None = None
    sources: list[str] = Field(default_factory=list)
    launched_per: Literal["township"] = "township"
    years: tuple[int, int] | None = Field(default=None, description="inclusive range of campaign years")
    reminders: Reminders = Field(default_factory=Reminders)
    forms: list[Form] = Field(default_factory=list)
    stages: list[Stage] = Field(min_length=1)
    gates: list[Gate] = Field(default_factory=list)
    obligations: list[Obligation] = Field(default_factory=list)
    escalation: Escalation
    targets: list[Target] = Field(default_factory=list)
    consolidation_days: int | None = Field(
        default=None, ge=1, le=3650, description="after acceptance, days of consolidation (巩固提升) before closing (销号)"
    )
    desk: bool = Field(default=False, description=(
        "a container of the 督办 desk (assigned items): never launched; its obligations are written by the desk "
        "(tasks.desk), one per recipient of an item"))
    stationing: StationingRules | None = Field(
        default=None, description="the stationing plan's settings (003 三(二)): team sizes, unit share, arrival days")

    @model_validator(mode="after")
    def _cross_references(self) -> Definition:
        _unique((s.key for s in self.stages), "stages")
        _unique((g.key for g in self.gates), "gates")
        _unique((f.key for f in self.forms), "forms")
        _unique((o.key for o in self.obligations), "obligations")
        _unique((t.key for t in self.targets), "targets")
        stages = {s.key for s in self.stages}
        gates = {g.key for g in self.gates}
        forms = {f.key for f in self.forms}
        for i, stage in enumerate(self.stages):
            if stage.closes.resolve(2024) < stage.opens.resolve(2024):
                raise _err(f"stages[{i}].closes", "closes before it opens")
            if stage.gate and stage.gate not in gates:
                raise _err(f"stages[{i}].gate", f"unknown gate '{stage.gate}'; known: {sorted(gates)}")
        for i, gate in enumerate(self.gates):
            if gate.form not in forms:
                raise _err(f"gates[{i}].form", f"unknown form '{gate.form}'; known: {sorted(forms)}")
        _check_gates(self.gates, {f.key: f for f in self.forms}, {s.gate for s in self.stages if s.gate})
        for i, form in enumerate(self.forms):
            for j, f in enumerate(form.fields):
                if f.within_stage and f.within_stage not in stages:
                    raise _err(f"forms[{i}].fields[{j}].within_stage", f"unknown stage '{f.within_stage}'; known: {sorted(stages)}")
        for i, ob in enumerate(self.obligations):
            if ob.form and ob.form not in forms:
                raise _err(f"obligations[{i}].form", f"unknown form '{ob.form}'; known: {sorted(forms)}")
            for name, ref in (("stage", ob.stage), ("due.stage", getattr(ob.due, "stage", None))):
                if ref and ref not in stages:
                    raise _err(f"obligations[{i}].{name}", f"unknown stage '{ref}'; known: {sorted(stages)}")
            for ref in ob.during:
                if ref not in stages:
                    raise _err(f"obligations[{i}].during", f"unknown stage '{ref}'; known: {sorted(stages)}")
            if ob.recurring and not ob.during:
                raise _err(f"obligations[{i}].during", "a recurring obligation needs the stages it runs during")
            if ob.subject.villages is not None and ob.subject.villages.listed and ob.subject.kind != "village":
                raise _err(f"obligations[{i}].subject.villages.listed", "only an obligation of villages (kind: village) follows the list")
            if ob.listed and not any(o.kind == "list" for o in self.obligations):
                raise _err(f"obligations[{i}].subject.villages.listed", "the definition has no list obligation (kind: list)")
        if self.years and self.years[0] > self.years[1]:
            raise _err("years", "the first year is after the last")
        for key, spec in self.escalation.triggers.specs():
            problem = spec.problem(self.forms)
            if problem is not None:
                raise _err(f"escalation.triggers.{key}.{problem[0]}", problem[1])
        overlap = text_checks_overlap(self.escalation.triggers.specs(), self.forms)
        if overlap is not None:
            raise _err(f"escalation.triggers.{overlap[0]}", overlap[1])
        forms_by_key = {f.key: f for f in self.forms}
        for i, target in enumerate(self.targets):
            problem = _target_problem(target, forms_by_key)
            if problem is not None:
                raise _err(f"targets[{i}].{problem[0]}", problem[1])
        return self

    def stage(self, key: str) -> Stage:
        return next(s for s in self.stages if s.key == key)

    def form(self, key: str) -> Form:
        return next(f for f in self.forms if f.key == key)

    def gate(self, key: str) -> Gate:
        return next(g for g in self.gates if g.key == key)

    def obligation(self, key: str) -> Obligation:
        return next(o for o in self.obligations if o.key == key)

    def review_for(self, obligation_key: str | None, stage_key: str | None, form_key: str) -> tuple[str | None, ReviewSpec]:
        """The gate (if any) and review chain a submission of ``form_key`` goes through.

        A submission whose form is the gate form of its stage is that gate's submission.
        """
        stage = next((s for s in self.stages if s.key == stage_key), None)
        if stage and stage.gate:
            gate = self.gate(stage.gate)
            if gate.form == form_key:
                return gate.key, ReviewSpec(chain=gate.review_chain, max_return_rounds=gate.max_return_rounds)
        if obligation_key:
            ob = self.obligation(obligation_key)
            if ob.review:
                return None, ob.review
        return None, DEFAULT_REVIEW


CHECK_FIELD_TYPES = {"field": {"self_check": FieldType.NUMBER, "satisfaction": FieldType.NUMBER, "veto": FieldType.BOOLEAN},
                     "start_field": {"public_notice": FieldType.DATE}, "end_field": {"public_notice": FieldType.DATE}}


def _check_gates(gates: list[Gate], forms: dict[str, Form], staged: set[str]) -> None:
    """Each check reads fields that exist with the right type, and ``requires`` names gates that close a
    stage, never the gate itself, and never in a circle."""
    for i, gate in enumerate(gates):
        for j, check in enumerate(gate.checks):
            _check_fields(check, forms, gate.form, f"gates[{i}].checks[{j}]")
        for ref in gate.requires:
            if ref == gate.key or ref not in {g.key for g in gates}:
                known = sorted(g.key for g in gates if g.key != gate.key)
                raise _err(f"gates[{i}].requires", f"unknown gate '{ref}'; known: {known}")
            if ref not in staged:
                raise _err(f"gates[{i}].requires", f"gate '{ref}' closes no stage, so it never passes")
    graph = {g.key: g.requires for g in gates}
    for i, gate in enumerate(gates):
        path = _cycle_from(gate.key, graph, [])
        if path:
            raise _err(f"gates[{i}].requires", f"the gates require each other in a circle: {' → '.join(path)}")


def _cycle_from(key: str, graph: dict[str, list[str]], path: list[str]) -> list[str]:
    """The circle of requirements that leads back to ``path[0]``, if any."""
    if path and key == path[0]:
        return [*path, key]
    if key in path:
        return []
    for ref in graph.get(key, []):
        found = _cycle_from(ref, graph, [*path, key])
        if found:
            return found
    return []


def _check_fields(check: GateCheck, forms: dict[str, Form], gate_form: str, where: str) -> None:
    fields = {f.key: f for f in forms[gate_form].fields}
    for setting, kinds in CHECK_FIELD_TYPES.items():
        ref = getattr(check, setting)
        if ref is None:
            continue
        if ref not in fields:
            raise _err(f"{where}.{setting}", f"unknown field '{ref}' of form '{gate_form}'; known: {sorted(fields)}")
        if fields[ref].type is not kinds[check.kind]:
            raise _err(f"{where}.{setting}", f"field '{ref}' must be a {kinds[check.kind]} field")
    if check.kind == "satisfaction" and check.field and fields[check.field].unit != "percent":
        raise _err(f"{where}.field", f"field '{check.field}' must have unit: percent (0–100)")
    if check.form is not None:
        if check.form not in forms:
            raise _err(f"{where}.form", f"unknown form '{check.form}'; known: {sorted(forms)}")
        scores = {f.key for f in forms[check.form].fields if f.type is FieldType.NUMBER}
        if check.score_field not in scores:
            raise _err(f"{where}.score_field", f"'{check.score_field}' is no number field of form '{check.form}'; known: {sorted(scores)}")


class _CrossRefError(ValueError):
    def __init__(self, loc: str, msg: str) -> None:
        super().__init__(f"{loc}: {msg}")
        self.loc = loc


def _err(loc: str, msg: str) -> _CrossRefError:
    return _CrossRefError(loc, msg)


def _unique(keys: Iterable[str], where: str) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise _err(where, f"duplicate key '{key}'")
        seen.add(key)


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            # discriminated unions add the tag as a path element; keep the user's path
            if part in {"fixed", "quarter_last_month", "monthly", "weekly", "relative_to_stage"}:
                continue
            out += f".{part}" if out else str(part)
    return out


def parse_definition(data: Any, source: str) -> Definition:
    """Validate already-parsed YAML; errors name ``source`` and the field path."""
    if not isinstance(data, dict):
        raise DefinitionError(f"{source}: the top level must be a mapping of fields")
    try:
        return Definition.model_validate(data)
    except ValidationError as exc:
        errors = []
        for e in exc.errors():
            msg = str(e["msg"]).removeprefix("Value error, ")
            ctx_err = (e.get("ctx") or {}).get("error")
            if isinstance(ctx_err, _CrossRefError):
                loc, msg = ctx_err.loc, str(ctx_err).split(": ", 1)[1]
            else:
                loc = _format_loc(tuple(e["loc"])) or "(top level)"
            errors.append({"file": source, "field": loc, "message": msg})
        lines = "; ".join(f"{source}: {x['field']}: {x['message']}" for x in errors)
        raise DefinitionError(lines, errors=errors) from None


def load_definition(path: Path) -> Definition:
    """Load and validate one YAML definition file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise DefinitionError(f"{path.name}:{where}: not valid YAML: {exc}") from None
    definition = parse_definition(data, path.name)
    if definition.key != path.stem:
        raise DefinitionError(
            f"{path.name}: key: '{definition.key}' must match the file name '{path.stem}'",
            errors=[{"file": path.name, "field": "key", "message": "must match the file name"}],
        )
    return definition


def load_definitions(directory: Path) -> dict[str, Definition]:
    """Load every ``*.yaml`` in ``directory``; the first invalid file raises."""
    definitions: dict[str, Definition] = {}
    for path in sorted(directory.glob("*.yaml")):
        definition = load_definition(path)
        definitions[definition.key] = definition
    return definitions
