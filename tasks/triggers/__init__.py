"""Escalation triggers: one module each, registered under the key ``domain.triggers`` declares it by.

A time-based trigger (``TimeTrigger``: ``overdue``, ``measures_overdue``) is climbed by the tick
(``tasks.tick.climb_ladder``); an event-based one (``EventTrigger``: ``zero_report``, ``hollow_report``,
``unverified``, ``returns_exceeded``, ``relapse``) runs when a service action publishes its event with ``fire``.
The shared machinery — recording a step with its audit event, document, case and mails, resolving,
confirming, dismissing — is ``tasks.escalation``.
"""

from tasks.triggers import (  # register
    hollow_report,
    leader_visits,
    measures_overdue,
    overdue,
    relapse,
    returns_exceeded,
    unverified,
    zero_report,
)
from tasks.triggers.base import REGISTRY, EventTrigger, TimeTrigger, Trigger, event_based, fire, register, time_based
from tasks.triggers.events import Event, Relapsed, Returned, Submitted

__all__ = [
    "REGISTRY", "Event", "EventTrigger", "Relapsed", "Returned", "Submitted", "TimeTrigger", "Trigger",
    "event_based", "fire", "hollow_report", "leader_visits", "measures_overdue", "overdue", "register", "relapse", "returns_exceeded", "time_based",
    "unverified", "zero_report",
]
