"""What service actions tell the event-based triggers. Each kind of event names the action that publishes
it (``published_by``): that function calls ``tasks.triggers.fire`` with it, in the action's transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import ClassVar

from domain.definitions import Definition
from models import Campaign, Submission, VillageRectification
from tasks.accounts import Principal


@dataclass(frozen=True)
class Event:
    published_by: ClassVar[str]  # module.function of the service action that publishes it

    principal: Principal
    campaign: Campaign
    definition: Definition
    now: dt.datetime


@dataclass(frozen=True)
class Submitted(Event):
    """A township submitted a report (each round)."""

    published_by = "tasks.review.submit_checked"  # behind submit_submission and save_and_submit
    submission: Submission


@dataclass(frozen=True)
class Returned(Event):
    """A reviewer returned a submission for revision; ``exceeded``: more often than its policy allows."""

    published_by = "tasks.review.decide"
    submission: Submission
    max_returns: int
    exceeded: bool


@dataclass(frozen=True)
class Relapsed(Event):
    """The county found that a consolidating or closed village relapsed (反复回潮)."""

    published_by = "tasks.rectification.transition"
    rectification: VillageRectification
    comment: str
