"""Turn a definition, a township and a year into the stages and deadlines of one campaign.

Pure: no I/O. ``today`` decides which stages are already open and which deadlines had
passed before the campaign existed (those are waived, never escalated).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from domain.calendar import WorkCalendar, last_day_of_month
from domain.definitions import (
    Definition,
    FixedRule,
    MonthlyRule,
    Obligation,
    QuarterLastMonthRule,
    RelativeToStageRule,
    WeeklyRule,
)
from domain.vocabulary import LatePolicy, ObligationStatus, StageStatus, zh_date

S = TypeVar("S")


@dataclass(frozen=True)
class OrgRef:
    code: str
    name: str
    kind: str
    key_contact_class: str | None = None
    collective_income: int | None = None


@dataclass(frozen=True)
class StagePlan:
    key: str
    name: str
    seq: int
    opens_on: dt.date
    closes_on: dt.date
    gate_key: str | None
    status: str


@dataclass(frozen=True)
class ObligationPlan:
    key: str
    rule_key: str
    kind: str
    title: str
    stage_key: str | None
    subject_code: str
    period: str
    opens_on: dt.date
    nominal_due_on: dt.date
    due_on: dt.date
    policy: str
    status: str


@dataclass
class CampaignPlan:
    definition_key: str
    definition_version: int
    township_code: str
    year: int
    stages: list[StagePlan]
    obligations: list[ObligationPlan]
    warnings: list[str] = field(default_factory=list)


def _at_launch(opens_on: dt.date, ends_on: dt.date, today: dt.date, before: S, during: S, after: S) -> S:
    """A window's status at launch: ``before`` it opens, ``during`` it, ``after`` it ended (then it is waived:
    nobody is reminded of, or escalated for, what was over before the campaign began)."""
    if today < opens_on:
        return before
    return during if today <= ends_on else after


def stage_status(opens_on: dt.date, closes_on: dt.date, today: dt.date) -> StageStatus:
    """Initial status of a stage at launch: pending, open, or waived when it closed before launch."""
    return _at_launch(opens_on, closes_on, today, StageStatus.PENDING, StageStatus.OPEN, StageStatus.WAIVED)


def obligation_status(opens_on: dt.date, due_on: dt.date, today: dt.date) -> ObligationStatus:
    """Initial status of an obligation at launch; one already past due at launch is waived."""
    return _at_launch(opens_on, due_on, today, ObligationStatus.SCHEDULED, ObligationStatus.OPEN,
                      ObligationStatus.WAIVED)


def _nominal_dates(
    ob: Obligation, start: dt.date, end: dt.date, year: int, stages: dict[str, StagePlan]
) -> Iterator[tuple[dt.date, str]]:
    """Nominal due dates of an obligation with the period label of each."""
    rule = ob.due
    if isinstance(rule, FixedRule):
        day = rule.spec().resolve(year)
        yield day, str(day.year)
    elif isinstance(rule, RelativeToStageRule):
        stage = stages[rule.stage]
        anchor = stage.opens_on if rule.anchor == "opens" else stage.closes_on
        day = anchor + dt.timedelta(days=rule.offset_days)
        yield day, str(day.year)
    elif isinstance(rule, QuarterLastMonthRule):
        for y in range(start.year, end.year + 1):
            for q in (1, 2, 3, 4):
                day = dt.date(y, q * 3, min(rule.day, last_day_of_month(y, q * 3)))
                if start <= day <= end:
                    yield day, f"{y}Q{q}"
    elif isinstance(rule, MonthlyRule):
        for y in range(start.year, end.year + 1):
            for m in rule.months or range(1, 13):
                last = last_day_of_month(y, m)
                day = dt.date(y, m, last if rule.day == "last" else min(rule.day, last))
                if start <= day <= end:
                    yield day, f"{y}-{m:02d}"
    elif isinstance(rule, WeeklyRule):
        day = start + dt.timedelta(days=(rule.weekday - 1 - start.weekday()) % 7)
        while day <= end:
            iso = day.isocalendar()
            yield day, f"{iso.year}-W{iso.week:02d}"
            day += dt.timedelta(days=7)


def owes(ob: Obligation, village: OrgRef) -> bool:
    """Whether ``village`` matches the village filter of ``ob`` (key-contact class, collective income); whether it
    is on the list, for an obligation of listed villages, is the caller's to say."""
    flt = ob.subject.villages
    if flt and flt.key_contact_class is not None and village.key_contact_class not in flt.key_contact_class:
        return False
    return not (flt and flt.max_collective_income is not None
                and (village.collective_income is None or village.collective_income > flt.max_collective_income))


def _subjects(ob: Obligation, township: OrgRef, villages: Sequence[OrgRef]) -> list[OrgRef]:
    if ob.subject.kind == "township":
        return [township]
    return [village for village in villages if owes(ob, village)]


def _plan_stages(definition: Definition, year: int, today: dt.date) -> dict[str, StagePlan]:
    stages: dict[str, StagePlan] = {}
    for seq, stage_def in enumerate(definition.stages, start=1):
        opens_on, closes_on = stage_def.opens.resolve(year), stage_def.closes.resolve(year)
        stages[stage_def.key] = StagePlan(
            key=stage_def.key, name=stage_def.name, seq=seq, opens_on=opens_on, closes_on=closes_on,
            gate_key=stage_def.gate, status=stage_status(opens_on, closes_on, today),
        )
    return stages


def _opens_on(ob: Obligation, stage: StagePlan | None, start: dt.date, due_on: dt.date) -> dt.date:
    """When a deadline's reporting window opens: ``opens_days_before`` it (a recurring report, or one outside
    any stage), or with the stage it belongs to; never after the deadline."""
    if ob.recurring:
        opens_on = max(start, due_on - dt.timedelta(days=ob.opens_days_before))
    elif stage is not None and stage.opens_on <= due_on:
        opens_on = stage.opens_on
    else:
        opens_on = due_on - dt.timedelta(days=ob.opens_days_before)
    return min(opens_on, due_on)


@dataclass(frozen=True)
class DatedDeadline:
    """One due date an obligation rule sets in the campaign year, the same for every subject that owes it."""

    period: str
    opens_on: dt.date
    nominal_due_on: dt.date
    due_on: dt.date
    stage_key: str | None
    status: str


def _dated_deadlines(ob: Obligation, stages: dict[str, StagePlan], year: int, calendar: WorkCalendar,
                     today: dt.date) -> list[DatedDeadline]:
    """Every due date one obligation rule sets in the campaign year (whoever owes it)."""
    ordered = list(stages.values())
    if ob.during:
        window = [stages[k] for k in ob.during]
        start, end = min(s.opens_on for s in window), max(s.closes_on for s in window)
    else:
        start, end = ordered[0].opens_on, ordered[-1].closes_on
    out = []
    for nominal, period in _nominal_dates(ob, start, end, year, stages):
        due_on = calendar.adjust(nominal, ob.policy)
        stage_key = ob.stage or getattr(ob.due, "stage", None)
        stage = stages[stage_key] if stage_key else next(
            (s for s in ordered if s.opens_on <= nominal <= s.closes_on), None)
        opens_on = _opens_on(ob, stage, start, due_on)
        out.append(DatedDeadline(period, opens_on, nominal, due_on, stage.key if stage else None,
                                 obligation_status(opens_on, due_on, today)))
    return out


def _owed(ob: Obligation, dated: Sequence[DatedDeadline], subjects: Sequence[OrgRef]) -> Iterator[ObligationPlan]:
    """The deadlines of ``dated`` for each subject in ``subjects`` (date by date, subject by subject)."""
    village = ob.subject.kind == "village"
    for d in dated:
        for subject in subjects:
            suffix = f"{subject.code}:" if village else ""
            yield ObligationPlan(
                key=f"{ob.key}:{suffix}{d.period}", rule_key=ob.key, kind=ob.kind, title=ob.title,
                stage_key=d.stage_key, subject_code=subject.code, period=d.period, opens_on=d.opens_on,
                nominal_due_on=d.nominal_due_on, due_on=d.due_on, policy=ob.policy.value, status=d.status,
            )


def _plan_obligation(ob: Obligation, stages: dict[str, StagePlan], subjects: list[OrgRef], year: int,
                     calendar: WorkCalendar, today: dt.date) -> Iterator[ObligationPlan]:
    """Every deadline one obligation rule sets in the campaign year, for each of its subjects."""
    return _owed(ob, _dated_deadlines(ob, stages, year, calendar, today), subjects)


@dataclass
class YearPlan:
    """What a campaign of ``definition`` launched on ``today`` for ``year`` looks like before a township is named:
    its stages and every due date of its rules. The same for every township of a batch, so planned once
    (:func:`plan_year`) and filled in per township (:func:`plan_township`)."""

    definition: Definition
    year: int
    calendar: WorkCalendar
    stages: dict[str, StagePlan]
    rules: list[tuple[Obligation, list[DatedDeadline]]]
    stage_years: frozenset[int]
    _warnings: dict[frozenset[int], list[str]] = field(default_factory=dict)

    def warnings(self, years: frozenset[int]) -> list[str]:
        """The calendar's warnings for ``years`` (a fresh list: the caller may add to it)."""
        if years not in self._warnings:
            self._warnings[years] = self.calendar.warnings(years)
        return list(self._warnings[years])


def plan_year(definition: Definition, year: int, calendar: WorkCalendar, today: dt.date) -> YearPlan:
    """The stages and due dates of ``definition`` in campaign ``year`` as of ``today``, for any township."""
    stages = _plan_stages(definition, year, today)
    rules = [(ob, _dated_deadlines(ob, stages, year, calendar, today))
             for ob in definition.obligations if not ob.listed]  # the list brings those: plan_listed
    stage_years = frozenset({s.opens_on.year for s in stages.values()} | {s.closes_on.year for s in stages.values()})
    return YearPlan(definition, year, calendar, stages, rules, stage_years)


def plan_township(year_plan: YearPlan, township: OrgRef, villages: Sequence[OrgRef]) -> CampaignPlan:
    """``year_plan`` filled in for ``township`` and its ``villages``: what :func:`plan_campaign` returns."""
    obligations: list[ObligationPlan] = []
    years = set(year_plan.stage_years)
    for ob, dated in year_plan.rules:
        subjects = _subjects(ob, township, villages)
        if subjects and dated:
            obligations.extend(_owed(ob, dated, subjects))
            years.update(d.nominal_due_on.year for d in dated)
    obligations.sort(key=lambda o: (o.due_on, o.key))
    warnings = year_plan.warnings(frozenset(years))
    waived = sum(1 for o in obligations if o.status == ObligationStatus.WAIVED)
    if waived:
        warnings.append(waived_warning(waived))
    definition = year_plan.definition
    return CampaignPlan(
        definition_key=definition.key, definition_version=definition.version, township_code=township.code,
        year=year_plan.year, stages=list(year_plan.stages.values()), obligations=obligations, warnings=warnings,
    )


def plan_campaign(
    definition: Definition,
    township: OrgRef,
    villages: Sequence[OrgRef],
    year: int,
    calendar: WorkCalendar,
    today: dt.date,
) -> CampaignPlan:
    """Every stage and every deadline of ``definition`` for ``township`` in campaign ``year``."""
    return plan_township(plan_year(definition, year, calendar, today), township, villages)


@dataclass(frozen=True)
class LateStart:
    """The launcher's answer for deadlines already past at launch: waive them, or owe each one by a catch-up
    date ``workdays`` working days after the launch day."""

    policy: LatePolicy = LatePolicy.WAIVE
    workdays: int = 10


@dataclass(frozen=True)
class LateDeadline:
    """One deadline that had passed when the campaign was launched, and what the launch made of it."""

    key: str
    title: str
    subject_code: str
    period: str
    due_on: dt.date
    catch_up_on: dt.date | None  # None: waived (不适用)


def apply_late_start(plan: CampaignPlan, definition: Definition, calendar: WorkCalendar, today: dt.date,
                     late: LateStart) -> tuple[CampaignPlan, list[LateDeadline]]:
    """``plan`` with its past deadlines handled as ``late`` says, and the list of those deadlines.

    Catching up gives every one-off deadline already past (a list, a plan, an application) the due date ``late.workdays``
    working days after ``today`` and reopens its stage until then; past periods of a recurring report stay waived
    (a report of a period over before the campaign began is not owed, as for a village listed late: ``plan_listed``).
    """
    past = [o for o in plan.obligations if o.status == ObligationStatus.WAIVED]
    if late.policy == LatePolicy.WAIVE or not past:
        return plan, [LateDeadline(o.key, o.title, o.subject_code, o.period, o.due_on, None) for o in past]
    latest = calendar.add_workdays(today, late.workdays)
    owed = {o.key for o in past if not definition.obligation(o.rule_key).recurring}
    obligations = [replace(o, due_on=latest, opens_on=min(o.opens_on, today), status=ObligationStatus.OPEN)
                   if o.key in owed else o for o in plan.obligations]
    reopened = {o.stage_key for o in past if o.key in owed}
    stages = [replace(s, closes_on=max(s.closes_on, latest), status=StageStatus.OPEN)
              if s.status == StageStatus.WAIVED and s.key in reopened else s for s in plan.stages]
    warnings = [w for w in plan.warnings if w != waived_warning(len(past))]
    warnings.append(f"有{len(past)}项截止日期在启动前已过：{len(owed)}项限{zh_date(latest)}前补报"
                    + (f"，{len(past) - len(owed)}项为已过期次的定期报告，不再补报。" if len(past) > len(owed) else "。"))
    affected = [LateDeadline(o.key, o.title, o.subject_code, o.period, o.due_on, latest if o.key in owed else None)
                for o in past]
    return replace(plan, stages=stages, obligations=obligations, warnings=warnings), affected


def waived_warning(count: int) -> str:
    return f"有{count}项截止日期在启动前已过，已标记为“不适用”，不予催办。"


def plan_listed(definition: Definition, listed: Sequence[OrgRef], year: int, calendar: WorkCalendar,
                today: dt.date) -> list[ObligationPlan]:
    """Every deadline the villages on the approved list owe (obligations of ``villages: {listed: true}``), as of
    ``today``, the day the list was approved or changed (000 §四(二): the plans follow the list; 004 §一.3: the
    key-contact villages among them report weekly).

    A status of ``waived`` marks what was over before the village was listed: a report of a past period is not
    owed. A one-off deadline closer than ``listed_late_workdays`` working days (or past) moves to that many
    working days from ``today``; ``nominal_due_on`` keeps the definition's date.
    """
    stages = _plan_stages(definition, year, today)
    out = []
    for ob in definition.obligations:
        if not ob.listed:
            continue
        latest = calendar.add_workdays(today, ob.listed_late_workdays)
        for plan in _plan_obligation(ob, stages, [v for v in listed if owes(ob, v)], year, calendar, today):
            if ob.recurring or plan.due_on >= latest:
                out.append(replace(plan, status=obligation_status(plan.opens_on, plan.due_on, today)))
            else:
                out.append(replace(plan, due_on=latest, opens_on=min(plan.opens_on, today),
                                   status=obligation_status(min(plan.opens_on, today), latest, today)))
    return sorted(out, key=lambda o: (o.due_on, o.key))
