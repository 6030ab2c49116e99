"""Campaigns, their stages and their obligations (every deadline of a campaign year)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.vocabulary import CampaignStatus, LatePolicy, ObligationStatus, StageStatus
from models.base import UTCDateTime


class Campaign(SQLModel, table=True):
    __tablename__ = "campaigns"
    __table_args__ = (
        UniqueConstraint("definition_key", "township_id", "year", name="uq_campaign_definition_township_year"),
    )

    id: int | None = Field(default=None, primary_key=True)
    definition_key: str = Field(max_length=64, index=True)
    definition_version: int
    township_id: int = Field(sa_column=Column(Integer, ForeignKey("org_units.id"), nullable=False, index=True))
    year: int = Field(index=True)
    status: str = Field(default=CampaignStatus.ACTIVE, max_length=16, index=True)  # the active few among the closed
    launched_at: dt.datetime = Field(sa_type=UTCDateTime)
    calendar_warnings: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    version: int = Field(default=1)


class Stage(SQLModel, table=True):
    __tablename__ = "stages"
    __table_args__ = (UniqueConstraint("campaign_id", "key", name="uq_stage_campaign_key"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(
        sa_column=Column(Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False)
    )
    key: str = Field(max_length=64)
    name: str = Field(max_length=200)
    seq: int
    opens_on: dt.date
    closes_on: dt.date
    gate_key: str | None = Field(default=None, max_length=64)
    status: str = Field(default=StageStatus.PENDING, max_length=16, index=True)  # the tick's stages: not yet closed
    notice_ends_on: dt.date | None = Field(default=None, description="public-notice period (公示) end")
    passed_on: dt.date | None = None
    version: int = Field(default=1)


class Obligation(SQLModel, table=True):
    __tablename__ = "obligations"
    __table_args__ = (
        UniqueConstraint("campaign_id", "key", name="uq_obligation_campaign_key"),
        Index("ix_obligations_status_due", "status", "due_on"),
        Index("ix_obligations_subject", "subject_id"),
        # a campaign's deadlines in one status (the tick's missed deadlines of the active campaigns, without
        # reading the missed ones of closed campaigns, which pile up year after year)
        Index("ix_obligations_campaign_status", "campaign_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(
        sa_column=Column(Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False)
    )
    stage_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("stages.id", ondelete="SET NULL"), nullable=True)
    )
    key: str = Field(max_length=160)
    rule_key: str = Field(max_length=64)
    kind: str = Field(max_length=32)
    title: str = Field(max_length=200)
    subject_id: int = Field(sa_column=Column(Integer, ForeignKey("org_units.id"), nullable=False))
    period: str = Field(max_length=16)
    opens_on: dt.date
    nominal_due_on: dt.date
    due_on: dt.date
    policy: str = Field(max_length=24)
    status: str = Field(default=ObligationStatus.SCHEDULED, max_length=16)
    met_on: dt.date | None = None
    escalation_level: int = Field(default=0)
    version: int = Field(default=1)


class IdempotencyRecord(SQLModel, table=True):
    """An ``Idempotency-Key`` seen on a launching POST, written with the campaign it created."""

    __tablename__ = "idempotency_keys"

    key: str = Field(primary_key=True, max_length=255)
    request_hash: str = Field(max_length=64)
    campaign_id: int = Field(sa_column=Column(Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False))
    created_at: dt.datetime = Field(sa_type=UTCDateTime)


class CalendarYear(SQLModel, table=True):
    """The official holiday arrangement of a year, loaded by an administrator (国务院办公厅通知)."""

    __tablename__ = "calendar_years"

    year: int = Field(primary_key=True)
    holidays: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    makeup_workdays: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    note: str | None = Field(default=None, max_length=500)
    loaded_at: dt.datetime = Field(sa_type=UTCDateTime)


# ---- API schemas ---------------------------------------------------------------------------------


class LaunchRequest(SQLModel):
    model_config = {"extra": "forbid"}  # type: ignore[assignment]

    definition: str = Field(min_length=1, max_length=64, description="definition key, e.g. five_good_model_site")
    township: str = Field(min_length=1, max_length=32, description="township code")
    year: int = Field(description="campaign year")
    late: LatePolicy = Field(default=LatePolicy.WAIVE, description=(
        "deadlines already past at launch: waive (marked 不适用) or catch_up (each one-off deadline owed "
        "catch_up_workdays working days after launch; past periods of recurring reports stay waived)"))
    catch_up_workdays: int = Field(default=10, ge=1, le=60, description="working days after launch for a catch-up")


class BatchLaunchRequest(SQLModel):
    model_config = {"extra": "forbid"}  # type: ignore[assignment]

    definition: str = Field(min_length=1, max_length=64)
    year: int
    townships: list[str] | None = Field(
        default=None, max_length=5000, description="township codes; omit for every township"
    )
    late: LatePolicy = Field(default=LatePolicy.WAIVE, description=(
        "deadlines already past at launch: waive (marked 不适用) or catch_up (each one-off deadline owed "
        "catch_up_workdays working days after launch; past periods of recurring reports stay waived)"))
    catch_up_workdays: int = Field(default=10, ge=1, le=60, description="working days after launch for a catch-up")


class StagePublic(SQLModel):
    key: str
    name: str
    seq: int
    opens_on: dt.date
    closes_on: dt.date
    gate: str | None
    status: str


class ObligationPublic(SQLModel):
    id: int
    key: str
    kind: str
    title: str
    stage: str | None
    subject: str
    subject_name: str
    period: str
    opens_on: dt.date
    nominal_due_on: dt.date
    due_on: dt.date
    status: str


class CampaignSummary(SQLModel):
    id: int
    definition: str
    definition_name: str
    definition_version: int
    township: str
    township_name: str
    year: int
    status: str
    launched_at: dt.datetime


class CampaignPublic(CampaignSummary):
    warnings: list[str]
    stages: list[StagePublic]
    obligations: list[ObligationPublic]


class LateDeadlinePublic(SQLModel):
    """A deadline that had passed when its campaign was launched: waived (``catch_up_on`` null) or owed by then."""

    key: str
    title: str
    subject: str
    subject_name: str
    period: str
    period_label: str
    due_on: dt.date
    catch_up_on: dt.date | None


class LaunchedCampaign(CampaignPublic):
    """The answer to a launch: the campaign, and the deadlines already past at launch with what became of them."""

    late: str
    affected: list[LateDeadlinePublic] = []


class BatchItem(SQLModel):
    township: str
    status: str  # created | exists | failed
    campaign_id: int | None = None
    detail: str | None = None
    affected: list[LateDeadlinePublic] = []


class BatchResult(SQLModel):
    definition: str
    year: int
    created: int
    existing: int
    failed: int
    items: list[BatchItem]


