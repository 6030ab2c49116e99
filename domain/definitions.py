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
from pydantic import Field, ValidationError, model_validator

from domain.calendar import DuePolicy, last_day_of_month
from domain.errors import DefinitionError
from domain.schema import FieldType, Key, Strict, Text
from domain.triggers import DEFAULT_BOILERPLATE, TRIGGERS, TriggerSettings, settings_model
from domain.triggers import TRIGGER_LABELS as TRIGGER_LABELS  # re-exported: pages, ledgers and mails read it here


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
        text = (FieldType.TEXT, FieldType.TEXTAREA)
        for flag, ok in (("substantive", self.type in text), ("distinct_per_village", self.type in text),
                         ("within_stage", self.type is FieldType.DATE), ("names_subject", self.type is FieldType.VILLAGES)):
            if getattr(self, flag) and not ok:
                raise ValueError(f"{flag} does not apply to a field of type {self.type.value}")
        return self


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


class GateCheck(Strict):
    """One vetting condition of a gate, e.g. one of the six no-approvals (六个不批, 001)."""

    key: Key
    name: Text
    kind: Literal["self_check", "public_notice", "satisfaction", "veto", "standard", "document"]
    days: int | None = Field(default=None, ge=0, description="public-notice period; blank in 001")
    threshold: float | None = Field(default=None, ge=0, le=1)
    source: str | None = None


class Gate(Strict):
    key: Key
    name: Text
    form: Key
    review_chain: list[ReviewLevel] = Field(min_length=1)
    max_return_rounds: int = Field(default=2, ge=0, le=10)
    checks: list[GateCheck] = Field(default_factory=list)
    veto_ban_years: int | None = Field(default=None, ge=0, le=10)
    source: str | None = None


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
                raise _err(f"triggers.{name}.level", f"unknown ladder level '{spec.level}'")
        for i, level in enumerate(self.ladder):
            if level.document is not None and level.document not in DOCUMENT_KINDS:
                raise _err(f"ladder[{i}].document", f"unknown document '{level.document}' (one of {', '.join(DOCUMENT_KINDS)})")
        return self

    def level_index(self, trigger: str) -> int:
        """The 1-based ladder level a trigger opens at."""
        spec = getattr(self.triggers, trigger)
        if spec.level is None:
            return 1
        return [level.key for level in self.ladder].index(spec.level) + 1


class Target(Strict):
    key: Key
    name: Text
    threshold: float | None = Field(default=None, description="blank ('xx') in the documents: set locally")
    unit: Literal["percent", "count", "yuan", "ratio", "times"]
    comparison: Literal[">=", "<=", "=="] = ">="
    per: Literal["village", "township", "county", "member", "cadre", "leader"] = "village"
    period: Literal["year", "half_year", "campaign", "five_years", "three_years"] = "year"
    source: str | None = None


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
