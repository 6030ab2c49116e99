"""The trigger registry is the one source: every trigger declared in ``domain.triggers`` has its module in
``tasks/triggers/`` and is wired (the tick climbs the time-based ones, a service action publishes the event
of each event-based one), labelled, in the YAML schema, in the API's filter values and in the mail
templates — and a registry that breaks any of this is reported."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import importlib
import sys
import typing
from collections.abc import Iterator
from typing import cast
from unittest import mock

import pytest
from sqlmodel import Session

import tasks.tick
from api.routes import escalations as escalation_routes
from core.clock import CHINA_TZ
from domain.calendar import WorkCalendar
from domain.definitions import EscalationTriggers
from domain.triggers import (
    ESCALATION_MAIL_LABELS,
    TRIGGER_KEYS,
    TRIGGER_LABELS,
    TRIGGERS,
    TriggerDeclaration,
    TriggerSpec,
    case_mail_key,
    escalation_key,
    escalation_mail_key,
    parse_escalation_key,
    parse_escalation_mail_key,
)
from notifications.render import MAIL_TEMPLATES, TEMPLATES_DIR
from tasks import triggers
from tasks.triggers import REGISTRY, EventTrigger, Submitted, TimeTrigger

NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=CHINA_TZ)


# ---- the check ------------------------------------------------------------------------------------------


def registry_problems() -> list[str]:
    """Everything on which the registry and the places built from it disagree, one line each."""
    return [*_declared_and_registered(), *_labelled(), *_in_schema(), *_in_api_filter(), *_mailed(),
            *_climbed_by_the_tick(), *_published()]


def _declared_and_registered() -> Iterator[str]:
    for key in TRIGGERS.keys() - REGISTRY.keys():
        yield f"{key}: declared in domain.triggers but no module in tasks/triggers/ registers it"
    for key, trigger in REGISTRY.items():
        if key not in TRIGGERS:
            yield f"{key}: registered but not declared in domain.triggers"
        elif trigger.declaration is not TRIGGERS[key]:
            yield f"{key}: registered with another declaration than domain.triggers'"
        elif isinstance(trigger, TimeTrigger) != trigger.declaration.climbs:
            kind = "time-based" if isinstance(trigger, TimeTrigger) else "event-based"
            yield f"{key}: registered {kind} but its keys count {trigger.declaration.counts}"


def _labelled() -> Iterator[str]:
    for key, trigger in TRIGGERS.items():
        if not trigger.label.strip():
            yield f"{key}: no label"
        if TRIGGER_LABELS.get(key) != trigger.label:
            yield f"{key}: TRIGGER_LABELS says {TRIGGER_LABELS.get(key)!r}"
    for key in TRIGGER_LABELS.keys() - TRIGGERS.keys():
        yield f"{key}: labelled but not declared"


def _in_schema() -> Iterator[str]:
    fields = EscalationTriggers.model_fields
    if list(fields) != [k for k in TRIGGERS if k in fields]:
        yield f"the YAML schema lists the triggers in another order: {list(fields)}"
    for key, trigger in TRIGGERS.items():
        field = fields.get(key)
        if field is None:
            yield f"{key}: not in the YAML schema (escalation.triggers)"
        elif field.annotation is not trigger.settings:
            yield f"{key}: the YAML schema takes {field.annotation} instead of {trigger.settings.__name__}"
        elif field.default_factory is None or field.default_factory().enabled != trigger.enabled_by_default:  # type: ignore[call-arg]
            yield f"{key}: the YAML schema's default is not the declared one"
    for key in fields.keys() - TRIGGERS.keys():
        yield f"{key}: in the YAML schema but not declared"


def _in_api_filter() -> Iterator[str]:
    values = typing.get_args(escalation_routes.Trigger)
    if set(values) != set(TRIGGERS) or values != TRIGGER_KEYS:
        yield f"the API's trigger filter accepts {values}, the registry declares {tuple(TRIGGERS)}"


def _mailed() -> Iterator[str]:
    for key, trigger in TRIGGERS.items():
        template = key if trigger.notice else trigger.mail_template
        if template not in MAIL_TEMPLATES:
            yield f"{key}: mails with '{template}', which is not in notifications.render.MAIL_TEMPLATES"
        elif not (TEMPLATES_DIR / f"{template}.txt").exists() or not (TEMPLATES_DIR / f"{template}.html").exists():
            yield f"{key}: no template pair {template}.txt / .html"


def _climbed_by_the_tick() -> Iterator[str]:
    """Run ``climb_ladder`` with each time-based trigger's ``climb`` replaced by a recorder, in the registry
    and in its module (so a ladder wired by hand to ``overdue.climb`` is seen too)."""
    climbed: list[str] = []
    time_based = {key: t for key, t in REGISTRY.items() if isinstance(t, TimeTrigger)}
    with contextlib.ExitStack() as stack:
        for key, trigger in time_based.items():
            def record(session: Session, now: dt.datetime, calendar: WorkCalendar, key: str = key) -> int:
                climbed.append(key)
                return 0

            stack.enter_context(mock.patch.dict(REGISTRY, {key: dataclasses.replace(trigger, climb=record)}))
            module = sys.modules[trigger.climb.__module__]
            if getattr(module, trigger.climb.__name__, None) is trigger.climb:
                stack.enter_context(mock.patch.object(module, trigger.climb.__name__, record))
        tasks.tick.climb_ladder(cast(Session, None), NOW, WorkCalendar())
    for key in time_based:
        if climbed.count(key) != 1:
            yield f"{key}: time-based, but tasks.tick.climb_ladder climbs it {climbed.count(key)} times"


def _published() -> Iterator[str]:
    """An event-based trigger is reachable when the service action its event names calls ``fire`` with it."""
    for key, trigger in REGISTRY.items():
        if not isinstance(trigger, EventTrigger):
            continue
        where = getattr(trigger.on, "published_by", "")
        module, _, name = where.rpartition(".")
        try:
            action = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError, ValueError):
            yield f"{key}: fired by {trigger.on.__name__}, published by '{where}', which does not exist"
            continue
        code = getattr(action, "__code__", None)
        names = set(code.co_names) if code is not None else set()
        if not {"fire", trigger.on.__name__} <= names:
            yield f"{key}: fired by {trigger.on.__name__}, which {where} does not publish with fire()"


# ---- the registry as shipped --------------------------------------------------------------------------


def test_every_trigger_is_declared_registered_wired_labelled_and_listed() -> None:
    assert registry_problems() == []
    assert [t.key for t in triggers.time_based()] == ["overdue", "measures_overdue", "leader_visits"]
    assert [t.key for t in triggers.event_based()] == ["zero_report", "hollow_report", "unverified", "returns_exceeded",
                                                          "relapse"]


def test_each_trigger_module_is_named_by_its_key() -> None:
    for key, trigger in REGISTRY.items():
        fn = trigger.climb if isinstance(trigger, TimeTrigger) else trigger.fire
        assert fn.__module__ == f"tasks.triggers.{key}"


def test_the_key_convention_reads_back_what_it_writes() -> None:
    for key, trigger in TRIGGERS.items():
        step = escalation_key(key, 17, 2)
        assert step == trigger.step_key(17, 2) == f"{key}:17:2"
        assert parse_escalation_key(step).trigger == key
        mail = parse_escalation_mail_key(escalation_mail_key(step, 5))
        assert mail is not None and mail.step == parse_escalation_key(step) and mail.user_id == 5
        assert mail.kind in ESCALATION_MAIL_LABELS
        assert mail.step.level == (2 if trigger.climbs else None)
    assert escalation_mail_key("overdue:17:2", 5) == "escalation:overdue:17:2:5"
    assert escalation_mail_key("returns_exceeded:9:3", 5) == "returns_exceeded:9:3:5"  # the administrators' notice
    case = parse_escalation_mail_key(case_mail_key("zero_report:9:1", 5))  # the case the county opened on the step
    assert case is not None and (case.kind, case.step.trigger, case.user_id) == ("case", "zero_report", 5)
    assert parse_escalation_mail_key("escalation:zero_report:9:1:5").step.subject == "submission"  # type: ignore[union-attr]
    for other in ("reminder:3:7:5", "submitted:9:1:0:5", "digest:5:2026-01-05", "return:9:1:0:5", "escalation:x:1:1:5",
                  "escalation:overdue:17:2", "escalation:overdue:a:2:5"):
        assert parse_escalation_mail_key(other) is None, other
    with pytest.raises(ValueError):
        parse_escalation_key("nonsense:1:1")


# ---- a broken registry is reported --------------------------------------------------------------------


FAKE = TriggerDeclaration(key="fake", label="测试触发", settings=TriggerSpec, subject="obligation", counts="level",
                          source="test")


def test_a_trigger_declared_after_the_tables_were_built_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(TRIGGERS, "fake", FAKE)
    problems = registry_problems()
    assert "fake: declared in domain.triggers but no module in tasks/triggers/ registers it" in problems
    assert "fake: TRIGGER_LABELS says None" in problems
    assert "fake: not in the YAML schema (escalation.triggers)" in problems
    assert any(p.startswith("the API's trigger filter accepts") for p in problems)


def test_a_trigger_registered_but_not_declared_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REGISTRY, "fake", TimeTrigger(FAKE, lambda session, now, calendar: 0))
    assert registry_problems() == ["fake: registered but not declared in domain.triggers"]


def test_an_unlabelled_trigger_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    unlabelled = dataclasses.replace(TRIGGERS["relapse"], label=" ")
    monkeypatch.setitem(TRIGGERS, "relapse", unlabelled)
    monkeypatch.setitem(REGISTRY, "relapse", dataclasses.replace(REGISTRY["relapse"], declaration=unlabelled))
    assert registry_problems() == ["relapse: no label", "relapse: TRIGGER_LABELS says '反复回潮'"]


def test_a_time_based_trigger_the_tick_does_not_climb_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def climb_ladder_by_hand(session: Session, now: dt.datetime, calendar: WorkCalendar | None = None) -> int:
        return triggers.overdue.climb(session, now, calendar or WorkCalendar())  # the others forgotten

    monkeypatch.setattr(tasks.tick, "climb_ladder", climb_ladder_by_hand)
    assert registry_problems() == ["leader_visits: time-based, but tasks.tick.climb_ladder climbs it 0 times",
                                   "measures_overdue: time-based, but tasks.tick.climb_ladder climbs it 0 times"]


def test_an_event_based_trigger_no_service_action_fires_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclasses.dataclass(frozen=True)
    class Withdrawn(Submitted):
        published_by = "tasks.review.withdraw_submission"  # exists, but publishes nothing

    @dataclasses.dataclass(frozen=True)
    class Vetoed(Submitted):
        published_by = "tasks.review.no_such_action"

    vetoed = dataclasses.replace(FAKE, key="vetoed", counts="round")
    withdrawn = dataclasses.replace(FAKE, key="withdrawn", counts="round")
    for declaration, event in ((withdrawn, Withdrawn), (vetoed, Vetoed)):
        monkeypatch.setitem(TRIGGERS, declaration.key, declaration)
        monkeypatch.setitem(REGISTRY, declaration.key, EventTrigger(declaration, event, lambda session, e: None))
    problems = registry_problems()
    assert "withdrawn: fired by Withdrawn, which tasks.review.withdraw_submission does not publish with fire()" in problems
    assert "vetoed: fired by Vetoed, published by 'tasks.review.no_such_action', which does not exist" in problems


def test_a_trigger_registered_as_the_wrong_kind_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    relapse = REGISTRY["relapse"]
    monkeypatch.setitem(REGISTRY, "relapse", TimeTrigger(relapse.declaration, lambda session, now, calendar: 0))
    assert registry_problems() == ["relapse: registered time-based but its keys count relapses"]
