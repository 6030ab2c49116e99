"""What clients send about the stationing programme (003 §三(二), §四(五)): a programme, a year's plan with its
teams, the county's decision, and a cadre's arrival or early departure. Inputs forbid unknown fields."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.forms import text_problem

LEADER_POSTS = ("村党支部副书记", "村委会主任助理")  # 003 §三(二): 工作组组长挂任村党支部副书记或村委会主任助理


def _printable(value: str | None) -> str | None:
    if value is not None:
        problem = text_problem(value)
        if problem:
            raise ValueError(problem)
    return value


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ProgrammeIn(_In):
    """A three-year programme (003 前言: 从*年1月开始，用3年时间)."""

    name: str = Field(min_length=1, max_length=100)
    start_year: int = Field(ge=2000, le=2100)

    _text = field_validator("name")(_printable)


class TeamIn(_In):
    """One village's team: the village, the dispatching unit (or township, 镇派), the cadres and the leader."""

    village: str = Field(min_length=1, max_length=32)
    unit: str = Field(min_length=1, max_length=32)
    cadres: list[str] = Field(default_factory=list, max_length=10)
    leader: str | None = Field(default=None, max_length=32)
    leader_post: Literal["村党支部副书记", "村委会主任助理"] | None = None


class PlanIn(_In):
    """A year's 选派安排表 as a draft: the programme (by id, or by its start year), a note and every team.
    ``version`` is the plan's current version when it exists already (optimistic locking)."""

    programme: int | None = Field(default=None, ge=1)
    start_year: int | None = Field(default=None, ge=2000, le=2100)
    note: str | None = Field(default=None, max_length=2000)
    teams: list[TeamIn] = Field(default_factory=list, max_length=5000)
    version: int | None = Field(default=None, ge=1)

    _text = field_validator("note")(_printable)


class VersionIn(_In):
    version: int | None = Field(default=None, ge=1)


class PlanDecisionIn(_In):
    """The county's decision on a submitted plan; a return needs a note saying what to change."""

    decision: Literal["approve", "return"]
    note: str | None = Field(default=None, max_length=2000)
    version: int | None = Field(default=None, ge=1)

    _text = field_validator("note")(_printable)


class ArrivalIn(_In):
    """The day a cadre arrived at their village (到位)."""

    cadre: str = Field(min_length=1, max_length=32)
    arrived_on: dt.date


class DepartureIn(_In):
    """A cadre who left the village before the year ended, the day and why (the unit's assessment: 是否留得住)."""

    cadre: str = Field(min_length=1, max_length=32)
    left_on: dt.date
    reason: str = Field(min_length=1, max_length=500)

    _text = field_validator("reason")(_printable)
