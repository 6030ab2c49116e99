"""The two kinds of escalation trigger, and the registry every trigger module adds itself to.

- A **time-based** trigger is climbed by the tick: ``climb(session, now, calendar)`` records the ladder
  levels its subjects have reached since the last tick and returns how many; ``tasks.tick.climb_ladder``
  climbs every registered one.
- An **event-based** trigger is fired by a service action: the action publishes an event
  (``tasks.triggers.events``) with ``fire``, and every trigger registered ``on`` that kind of event runs,
  when the campaign's definition enables it.

Both run in the caller's transaction, in the order of ``domain.triggers.TRIGGERS`` (the order of the steps
they record, of their audit events and mails).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlmodel import Session

from domain.calendar import WorkCalendar
from domain.triggers import TRIGGERS, TriggerDeclaration
from models import Escalation
from tasks.triggers.events import Event

E = TypeVar("E", bound=Event)


@dataclass(frozen=True)
class TimeTrigger:
    """A trigger the tick climbs, level by level, as its subjects stay late."""

    declaration: TriggerDeclaration[Any]
    climb: Callable[[Session, dt.datetime, WorkCalendar], int]

    @property
    def key(self) -> str:
        return self.declaration.key


@dataclass(frozen=True)
class EventTrigger(Generic[E]):
    """A trigger a service action fires by publishing an event of kind ``on``."""

    declaration: TriggerDeclaration[Any]
    on: type[E]
    fire: Callable[[Session, E], Escalation | None]

    @property
    def key(self) -> str:
        return self.declaration.key


Trigger = TimeTrigger | EventTrigger[Any]
T = TypeVar("T", TimeTrigger, EventTrigger[Any])

REGISTRY: dict[str, Trigger] = {}
"""Every trigger module's trigger, by key (``tasks/triggers/__init__.py`` imports every module)."""


def register(trigger: T) -> T:
    if trigger.key in REGISTRY:
        raise ValueError(f"trigger '{trigger.key}' registered twice")
    REGISTRY[trigger.key] = trigger
    return trigger


def _in_declared_order() -> list[Trigger]:
    order = {key: i for i, key in enumerate(TRIGGERS)}
    return sorted(REGISTRY.values(), key=lambda t: order.get(t.key, len(order)))


def time_based() -> list[TimeTrigger]:
    """The triggers the tick climbs, in declaration order."""
    return [t for t in _in_declared_order() if isinstance(t, TimeTrigger)]


def event_based() -> list[EventTrigger[Any]]:
    """The triggers events fire, in declaration order."""
    return [t for t in _in_declared_order() if isinstance(t, EventTrigger)]


def fire(session: Session, event: Event) -> list[Escalation]:
    """Run every enabled trigger registered on this kind of event; the escalations they opened."""
    opened = []
    for trigger in event_based():
        if isinstance(event, trigger.on) and event.definition.escalation.triggers.of(trigger.declaration).enabled:
            escalation = trigger.fire(session, event)
            if escalation is not None:
                opened.append(escalation)
    return opened
