"""The 督办 desk: assigned items (交办事项) and their recipients, extension requests (延期申请), the hand-issued
三色督办单 and the periodic bulletins (定期通报). Each recipient's deadlines are ordinary ``Obligation`` rows
(``tasks.desk``), so the tick, reminders, ladder, review and ledgers serve them unchanged."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from sqlalchemy import JSON, Column, ForeignKey, Integer, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.vocabulary import BulletinStatus, ExtensionStatus, ItemFeedback, ItemReview, ItemSource, UrgeColour
from models.base import UTCDateTime


class AssignedItem(SQLModel, table=True):
    """One item the office assigns outside any campaign definition, numbered per year."""

    __tablename__ = "assigned_items"
    __table_args__ = (UniqueConstraint("year", "seq", name="uq_assigned_item_number"),)

    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    seq: int
    title: str = Field(max_length=200)
    source: str = Field(max_length=16, description="instruction | meeting | inspection | higher")
    document_number: str | None = Field(default=None, max_length=100, description="文号 of the source")
    requirement: str = Field(max_length=4000, description="what must be done")
    due_on: dt.date | None = Field(default=None, description="a fixed deadline …")
    due_workdays: int | None = Field(default=None, description="… or N working days from acknowledgement")
    feedback: str = Field(max_length=16, description="once | weekly | monthly | quarterly")
    review: str = Field(max_length=32, description="the review chain of the 办结报告: township_county | county")
    ack_workdays: int
    max_extensions: int
    attachment_name: str | None = Field(default=None, max_length=255)
    attachment_type: str | None = Field(default=None, max_length=100)
    attachment: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_by: int = Field(sa_column=Column(Integer, ForeignKey("users.id"), nullable=False))
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    version: int = Field(default=1)


class ItemRecipient(SQLModel, table=True):
    """A township an item goes to, with its sign-for deadline and its 办结报告 deadline (obligations)."""

    __tablename__ = "item_recipients"
    __table_args__ = (UniqueConstraint("item_id", "township_id", name="uq_item_recipient"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(sa_column=Column(Integer, ForeignKey("assigned_items.id", ondelete="CASCADE"), nullable=False,
                                          index=True))
    township_id: int = Field(sa_column=Column(Integer, ForeignKey("org_units.id"), nullable=False, index=True))
    obligation_id: int = Field(sa_column=Column(Integer, ForeignKey("obligations.id"), nullable=False))
    ack_obligation_id: int = Field(sa_column=Column(Integer, ForeignKey("obligations.id"), nullable=False))
    acknowledged_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("users.id"), nullable=True))
    extensions: int = Field(default=0, description="extensions granted")
    version: int = Field(default=1)


class ExtensionRequest(SQLModel, table=True):
    """延期申请: reason, progress and a proposed date; the township's reviewer first, then the office."""

    __tablename__ = "extension_requests"

    id: int | None = Field(default=None, primary_key=True)
    recipient_id: int = Field(sa_column=Column(Integer, ForeignKey("item_recipients.id", ondelete="CASCADE"),
                                               nullable=False, index=True))
    item_id: int = Field(sa_column=Column(Integer, ForeignKey("assigned_items.id", ondelete="CASCADE"), nullable=False))
    township_id: int = Field(sa_column=Column(Integer, ForeignKey("org_units.id"), nullable=False, index=True))
    reason: str = Field(max_length=2000)
    progress: str = Field(max_length=2000)
    proposed_on: dt.date
    original_due_on: dt.date
    status: str = Field(default=ExtensionStatus.PENDING_TOWNSHIP, max_length=16)
    requested_by: int = Field(sa_column=Column(Integer, ForeignKey("users.id"), nullable=False))
    requested_at: dt.datetime = Field(sa_type=UTCDateTime)
    township_by: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("users.id"), nullable=True))
    township_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    decide_by: dt.date | None = Field(default=None, description="the office decides by this day")
    decided_by: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("users.id"), nullable=True))
    decided_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    comment: str | None = Field(default=None, max_length=2000)
    version: int = Field(default=1)


class DeskUrge(SQLModel, table=True):
    """A 三色督办单 the office issued by hand (蓝/黄/红), with its numbered document."""

    __tablename__ = "desk_urges"

    id: int | None = Field(default=None, primary_key=True)
    recipient_id: int = Field(sa_column=Column(Integer, ForeignKey("item_recipients.id", ondelete="CASCADE"),
                                               nullable=False, index=True))
    township_id: int = Field(sa_column=Column(Integer, ForeignKey("org_units.id"), nullable=False))
    colour: str = Field(max_length=8)
    note: str = Field(max_length=2000)
    document_id: int = Field(sa_column=Column(Integer, ForeignKey("official_documents.id"), nullable=False))
    issued_by: int = Field(sa_column=Column(Integer, ForeignKey("users.id"), nullable=False))
    issued_at: dt.datetime = Field(sa_type=UTCDateTime)


class Bulletin(SQLModel, table=True):
    """定期通报: the county's bulletin of supervision work for a period, drafted by duban, edited and published
    by the office as a numbered document."""

    __tablename__ = "desk_bulletins"
    __table_args__ = (UniqueConstraint("period_start", "period_end", name="uq_bulletin_period"),)

    id: int | None = Field(default=None, primary_key=True)
    period_start: dt.date
    period_end: dt.date
    title: str = Field(max_length=200)
    intro: str = Field(max_length=4000)
    best: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    worst: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    rows: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=BulletinStatus.DRAFT, max_length=16)
    document_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("official_documents.id"),
                                                                   nullable=True))
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    published_by: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("users.id"), nullable=True))
    published_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    version: int = Field(default=1)


# ---- API schemas ---------------------------------------------------------------------------------


class ItemIn(SQLModel):
    """A new assigned item: what, from where, to whom, by when, and how it is reported back."""

    model_config = {"extra": "forbid", "str_strip_whitespace": True}  # type: ignore[assignment]

    title: str = Field(min_length=1, max_length=200)
    source: ItemSource
    document_number: str | None = Field(default=None, max_length=100)
    requirement: str = Field(min_length=1, max_length=4000, description="what must be done")
    townships: list[str] | None = Field(default=None, max_length=500,
                                        description="township codes; omit (or all_townships) for every township")
    all_townships: bool = False
    due_on: dt.date | None = None
    due_workdays: int | None = Field(default=None, ge=1, le=250)
    feedback: ItemFeedback = ItemFeedback.ONCE
    review: ItemReview = ItemReview.TOWNSHIP_COUNTY
    ack_workdays: int | None = Field(default=None, ge=0, le=30)
    max_extensions: int | None = Field(default=None, ge=0, le=10)


class ExtensionIn(SQLModel):
    model_config = {"extra": "forbid", "str_strip_whitespace": True}  # type: ignore[assignment]

    reason: str = Field(min_length=1, max_length=2000)
    progress: str = Field(min_length=1, max_length=2000)
    proposed_on: dt.date


class ExtensionDecision(SQLModel):
    model_config = {"extra": "forbid", "str_strip_whitespace": True}  # type: ignore[assignment]

    decision: Literal["approve", "refuse"]
    comment: str | None = Field(default=None, max_length=2000)
    version: int | None = None


class UrgeIn(SQLModel):
    model_config = {"extra": "forbid", "str_strip_whitespace": True}  # type: ignore[assignment]

    colour: UrgeColour
    note: str = Field(min_length=1, max_length=2000)


class BulletinDraftIn(SQLModel):
    model_config = {"extra": "forbid"}  # type: ignore[assignment]

    year: int = Field(ge=2000, le=2100)
    month: int = Field(ge=1, le=12)


class BulletinPublishIn(SQLModel):
    model_config = {"extra": "forbid", "str_strip_whitespace": True}  # type: ignore[assignment]

    version: int | None = None
    intro: str | None = Field(default=None, max_length=4000)
    best: list[str] | None = Field(default=None, max_length=20)
    worst: list[str] | None = Field(default=None, max_length=20)
