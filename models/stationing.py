"""The stationing programme of 003: the three-year programme, each year's stationing plan (选派安排表) with its
teams and their cadres' arrival, the work records (工作日记, monthly team records, leaders' visits), dispatching
units' quarterly reports, the yearly assessments (per cadre 工作鉴定, per unit) and the graded acceptance
(分级验收) at the end."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Date, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime


def _fk(table: str, *, ondelete: str = "RESTRICT", nullable: bool = False, index: bool = True) -> Column:  # type: ignore[type-arg]
    return Column(Integer, ForeignKey(f"{table}.id", ondelete=ondelete), nullable=nullable, index=index)


def _user() -> Column:  # type: ignore[type-arg]
    return Column(Integer, ForeignKey("users.id"), nullable=True)


class PlanStatus(StrEnum):
    """A stationing plan: drafted by the 基层办, submitted, approved by the county's review or returned."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    APPROVED = "approved"


class Programme(SQLModel, table=True):
    """A three-year programme (003: "用3年时间"; "一年一考核，三年一验收"): ``start_year`` .. ``start_year + years - 1``.
    After the last year it stays open for the villages that failed acceptance until they pass."""

    __tablename__ = "programmes"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    definition_key: str = Field(default="cadres_in_villages", max_length=64)
    start_year: int = Field(unique=True, index=True)
    years: int = Field(default=3)
    created_by: int | None = Field(default=None, sa_column=_user())
    created_at: dt.datetime = Field(sa_type=UTCDateTime)


class StationingPlan(SQLModel, table=True):
    """One campaign year's 选派安排表. ``batch`` is 1 for the programme's first year (arrival by 8 January), 2, 3
    and on for later ones (arrival a setting). Reviewed by the county like a gate: submitted by one account,
    approved or returned by a county reviewer or administrator who is not the submitter."""

    __tablename__ = "stationing_plans"

    id: int | None = Field(default=None, primary_key=True)
    programme_id: int = Field(sa_column=_fk("programmes"))
    year: int = Field(unique=True, index=True)
    batch: int = Field(default=1)
    status: str = Field(default=PlanStatus.DRAFT, max_length=16)
    note: str | None = Field(default=None, max_length=2000)
    decision_note: str | None = Field(default=None, max_length=2000)
    created_by: int | None = Field(default=None, sa_column=_user())
    submitted_by: int | None = Field(default=None, sa_column=_user())
    submitted_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by: int | None = Field(default=None, sa_column=_user())
    decided_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(sa_type=UTCDateTime)
    version: int = Field(default=1)


class StationingTeam(SQLModel, table=True):
    """A village's 驻村工作组 in a plan: the dispatching unit (or township, 镇派) and the team leader, who takes the
    post of 村党支部副书记 or 村委会主任助理 (``leader_post``)."""

    __tablename__ = "stationing_teams"
    __table_args__ = (UniqueConstraint("plan_id", "village_id", name="uq_team_village"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(sa_column=_fk("stationing_plans", ondelete="CASCADE"))
    village_id: int = Field(sa_column=_fk("org_units"))
    unit_id: int = Field(sa_column=_fk("org_units"))
    leader_cadre_id: int | None = Field(default=None, sa_column=_fk("cadres", nullable=True, index=False))
    leader_post: str | None = Field(default=None, max_length=32, description="村党支部副书记 | 村委会主任助理")


class TeamMember(SQLModel, table=True):
    """A cadre of a team, with the day they arrived on site and, if they left early, the day and why."""

    __tablename__ = "team_members"
    __table_args__ = (UniqueConstraint("team_id", "cadre_id", name="uq_team_member"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(sa_column=_fk("stationing_teams", ondelete="CASCADE"))
    cadre_id: int = Field(sa_column=_fk("cadres"))
    arrived_on: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    arrival_recorded_by: int | None = Field(default=None, sa_column=_user())
    left_on: dt.date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    left_reason: str | None = Field(default=None, max_length=500)


class DiaryEntry(SQLModel, table=True):
    """One dated entry of a cadre's 《工作日记》 (003 四(三)): where, what was done, help given, results."""

    __tablename__ = "diary_entries"

    id: int | None = Field(default=None, primary_key=True)
    cadre_id: int = Field(sa_column=_fk("cadres"))
    village_id: int = Field(sa_column=_fk("org_units"))
    entry_date: dt.date = Field(sa_column=Column(Date, nullable=False, index=True))
    place: str = Field(max_length=200)
    work: str = Field(max_length=4000)
    help_given: str | None = Field(default=None, max_length=4000)
    results: str | None = Field(default=None, max_length=4000)
    created_by: int | None = Field(default=None, sa_column=_user())
    created_at: dt.datetime = Field(sa_type=UTCDateTime)


class TeamMonthlyRecord(SQLModel, table=True):
    """A team's record of one month: what it did, problems solved, what is next."""

    __tablename__ = "team_monthly_records"
    __table_args__ = (UniqueConstraint("team_id", "year", "month", name="uq_team_month"),)

    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(sa_column=_fk("stationing_teams", ondelete="CASCADE"))
    year: int
    month: int
    work: str = Field(max_length=4000)
    problems_solved: str | None = Field(default=None, max_length=4000)
    next_steps: str | None = Field(default=None, max_length=4000)
    created_by: int | None = Field(default=None, sa_column=_user())
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(sa_type=UTCDateTime)
    version: int = Field(default=1)


class LeaderVisit(SQLModel, table=True):
    """A leader's visit to their contact village (到挂钩联系点调查研究, 003 三(一))."""

    __tablename__ = "leader_visits"

    id: int | None = Field(default=None, primary_key=True)
    leader_id: int = Field(sa_column=_fk("leaders"))
    village_id: int = Field(sa_column=_fk("org_units"))
    visited_on: dt.date = Field(sa_column=Column(Date, nullable=False, index=True))
    purpose: str = Field(max_length=2000)
    created_by: int | None = Field(default=None, sa_column=_user())
    created_at: dt.datetime = Field(sa_type=UTCDateTime)


class UnitReport(SQLModel, table=True):
    """A dispatching unit's (or township's) quarterly written report to the 县委基层办 (003 四(六)), with the counts
    drawn from the work records at submission (``counts``)."""

    __tablename__ = "unit_reports"
    __table_args__ = (UniqueConstraint("org_unit_id", "year", "quarter", name="uq_unit_report"),)

    id: int | None = Field(default=None, primary_key=True)
    org_unit_id: int = Field(sa_column=_fk("org_units"))
    year: int
    quarter: int
    progress: str = Field(max_length=8000)
    problems: str | None = Field(default=None, max_length=8000)
    next_steps: str | None = Field(default=None, max_length=8000)
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="submitted", max_length=16, description="submitted | accepted | returned")
    submitted_by: int | None = Field(default=None, sa_column=_user())
    submitted_at: dt.datetime = Field(sa_type=UTCDateTime)
    reviewed_by: int | None = Field(default=None, sa_column=_user())
    reviewed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    review_note: str | None = Field(default=None, max_length=2000)
    version: int = Field(default=1)


class CadreAssessment(SQLModel, table=True):
    """A cadre's yearly 工作鉴定 (003 四(五)): drafted by the township committee, approved (审定) by the Organisation
    Department, then kept on the cadre's record (``status`` approved)."""

    __tablename__ = "cadre_assessments"
    __table_args__ = (UniqueConstraint("cadre_id", "year", name="uq_cadre_assessment"),)

    id: int | None = Field(default=None, primary_key=True)
    cadre_id: int = Field(sa_column=_fk("cadres"))
    year: int
    township_id: int = Field(sa_column=_fk("org_units"))
    appraisal: str = Field(max_length=8000, description="工作鉴定")
    grade: str = Field(max_length=16, description="excellent | competent | basically_competent | incompetent")
    diary_entries: int = Field(default=0, description="diary entries of the year when drafted")
    status: str = Field(default="draft", max_length=16, description="draft | submitted | returned | approved")
    drafted_by: int | None = Field(default=None, sa_column=_user())
    drafted_at: dt.datetime = Field(sa_type=UTCDateTime)
    decided_by: int | None = Field(default=None, sa_column=_user())
    decided_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    decision_note: str | None = Field(default=None, max_length=2000)
    version: int = Field(default=1)


class UnitAssessment(SQLModel, table=True):
    """A dispatching unit's yearly assessment (003 四(五)): whether it sent and kept its cadres, the rating proposed
    and the rating that stands after the downgrade (优秀/良好 → 合格, 合格 → 不合格)."""

    __tablename__ = "unit_assessments"
    __table_args__ = (UniqueConstraint("unit_id", "year", name="uq_unit_assessment"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(sa_column=_fk("org_units"))
    year: int
    dispatch_completed: bool
    shortfall: str | None = Field(default=None, max_length=2000, description="what was not sent or kept")
    proposed_rating: str | None = Field(default=None, max_length=16, description="excellent | good | pass | fail")
    final_rating: str | None = Field(default=None, max_length=16)
    decided_by: int | None = Field(default=None, sa_column=_user())
    decided_at: dt.datetime = Field(sa_type=UTCDateTime)
    version: int = Field(default=1)


class Acceptance(SQLModel, table=True):
    """One verdict of the graded acceptance (分级验收, 003 四(五)): the county accepts townships; the township, then
    the county, accept villages. ``year`` is the year of the verdict (a village that failed is accepted again in a
    later year)."""

    __tablename__ = "acceptances"
    __table_args__ = (UniqueConstraint("programme_id", "subject_id", "level", "year", name="uq_acceptance"),)

    id: int | None = Field(default=None, primary_key=True)
    programme_id: int = Field(sa_column=_fk("programmes"))
    subject_id: int = Field(sa_column=_fk("org_units"))
    level: str = Field(max_length=16, description="who judged: township | county")
    year: int
    passed: bool
    note: str = Field(max_length=2000)
    decided_by: int | None = Field(default=None, sa_column=_user())
    decided_at: dt.datetime = Field(sa_type=UTCDateTime)
