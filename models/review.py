"""Submissions, their rounds and reviews, attachments, the audit trail and the mail outbox."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from domain.vocabulary import (
    CaseStatus,
    EscalationStatus,
    OutboxStatus,
    RectificationStatus,
    SubmissionStatus,
)
from models.base import UTCDateTime


class Submission(SQLModel, table=True):
    """A report, list, plan or application passing through its review chain."""

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("campaign_id", "slot", name="uq_submission_slot"),
        Index("ix_submissions_status_level", "status", "current_level"),
        Index("ix_submissions_township", "township_id"),
        Index("ix_submissions_obligation", "obligation_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(sa_column=Column(Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False))
    obligation_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("obligations.id", ondelete="CASCADE"), nullable=True)
    )
    stage_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("stages.id", ondelete="SET NULL"), nullable=True)
    )
    slot: str = Field(max_length=200, description="what it answers: obligation/stage and subject")
    gate_key: str | None = Field(default=None, max_length=64)
    form_key: str = Field(max_length=64)
    title: str = Field(max_length=200)
    township_id: int = Field(sa_column=Column(Integer, ForeignKey("org_units.id"), nullable=False))
    subject_id: int = Field(sa_column=Column(Integer, ForeignKey("org_units.id"), nullable=False))
    status: str = Field(default=SubmissionStatus.DRAFT, max_length=16)
    current_level: int = Field(default=0)
    round: int = Field(default=1)
    returns: int = Field(default=0)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("users.id"), nullable=True))
    submitted_by: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("users.id"), nullable=True))
    submitted_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_submitted_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(sa_type=UTCDateTime)
    version: int = Field(default=1)


class SubmissionRound(SQLModel, table=True):
    """What was submitted in each round, kept for reviewers to compare."""

    __tablename__ = "submission_rounds"
    __table_args__ = (UniqueConstraint("submission_id", "round", name="uq_submission_round"),)

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(
        sa_column=Column(Integer, ForeignKey("submissions.id", ondelete="CASCADE"), nullable=False)
    )
    round: int
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    submitted_by: int = Field(sa_column=Column(Integer, ForeignKey("users.id"), nullable=False))
    submitted_at: dt.datetime = Field(sa_type=UTCDateTime)


class Review(SQLModel, table=True):
    __tablename__ = "reviews"

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(
        sa_column=Column(Integer, ForeignKey("submissions.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    round: int
    level: int
    level_name: str = Field(max_length=200)
    reviewer_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("users.id"), nullable=True),
        description="none when the system returned the submission on a trigger's finding (a hollow report)",
    )
    decision: str = Field(max_length=16, description="approve | return | reject | veto")
    comment: str | None = Field(default=None, max_length=4000)
    checks: list[dict[str, Any]] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True),
        description="a gate's checklist as it stood at this decision, with the reviewer's judgements",
    )
    created_at: dt.datetime = Field(sa_type=UTCDateTime)


class GateOverride(SQLModel, table=True):
    """An administrator's approval of a gate submission although checks failed, with the written reason; listed on
    the submission, in the obligations ledger and for the year-end assessment."""

    __tablename__ = "gate_overrides"
    __table_args__ = (Index("ix_gate_overrides_township_year", "township_id", "year"),)

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(
        sa_column=Column(Integer, ForeignKey("submissions.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    review_id: int = Field(sa_column=Column(Integer, ForeignKey("reviews.id", ondelete="CASCADE"), nullable=False))
    campaign_id: int = Field(sa_column=Column(Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False))
    township_id: int = Field(sa_column=Column(Integer, ForeignKey("org_units.id"), nullable=False))
    year: int = Field(description="the year (China time) of the decision")
    definition_key: str = Field(max_length=64)
    gate_key: str = Field(max_length=64)
    level_name: str = Field(max_length=200)
    checks: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False), description="the failed checks passed over"
    )
    reason: str = Field(max_length=2000)
    created_by: int = Field(sa_column=Column(Integer, ForeignKey("users.id"), nullable=False))
    created_at: dt.datetime = Field(sa_type=UTCDateTime)


class Attachment(SQLModel, table=True):
    __tablename__ = "attachments"

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(
        sa_column=Column(Integer, ForeignKey("submissions.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    uploaded_by: int = Field(sa_column=Column(Integer, ForeignKey("users.id"), nullable=False))
    uploaded_at: dt.datetime = Field(sa_type=UTCDateTime)


class AuditEvent(SQLModel, table=True):
    """One link of the hash-chained audit trail: ``hash = sha256(prev_hash + canonical event)``."""

    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(unique=True, index=True)
    at: dt.datetime = Field(sa_type=UTCDateTime)
    actor_id: int | None = Field(default=None)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=64)
    subject_type: str = Field(max_length=32)
    subject_id: int
    township_id: int | None = Field(default=None, index=True)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


class OutboxMessage(SQLModel, table=True):
    """A mail written in the same transaction as the change that causes it; delivered later."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=255, unique=True, description="unique cause: what, which event, recipient, channel")
    message_id: str = Field(max_length=255)
    channel: str = Field(default="email", max_length=16, sa_column_kwargs={"server_default": "email"},
                         description="email | sms | wecom | dingtalk | feishu")
    to_addr: str = Field(max_length=254, description="mail address, phone number, or robot:{id}")
    to_user_id: int | None = Field(default=None)
    subject: str = Field(max_length=300)
    body_text: str
    body_html: str
    status: str = Field(default=OutboxStatus.PENDING, max_length=16, description="pending | sending | sent | dead")
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=1000)
    next_attempt_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_until: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    sent_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    document_id: int | None = Field(default=None, description="an official document sent as a PDF attachment")


class ReminderLog(SQLModel, table=True):
    """One reminder per (obligation, offset, recipient): the unique key makes the tick re-runnable."""

    __tablename__ = "reminder_log"
    __table_args__ = (
        UniqueConstraint("obligation_id", "offset", "user_id", name="uq_reminder"),
        # the reminders waiting for a digest reader's daily digest (the tick's digest step reads only these)
        Index("ix_reminder_log_waiting", "user_id", postgresql_where=text('outbox_id IS NULL AND "offset" <> -1'),
              sqlite_where=text('outbox_id IS NULL AND "offset" <> -1')),
    )

    id: int | None = Field(default=None, primary_key=True)
    obligation_id: int = Field(
        sa_column=Column(Integer, ForeignKey("obligations.id", ondelete="CASCADE"), nullable=False)
    )
    offset: int = Field(description="working (or calendar) days before the due date; -1 = the opening request")
    user_id: int = Field(sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False))
    remind_on: dt.date
    outbox_id: int | None = Field(default=None, description="the mail that carried it; empty while a digest waits")
    created_at: dt.datetime = Field(sa_type=UTCDateTime)


class Lease(SQLModel, table=True):
    """A named lease so that only one process runs a periodic job at a time."""

    __tablename__ = "leases"

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=128)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime)


class Escalation(SQLModel, table=True):
    """A step up the escalation ladder, with the reason it happened.

    ``key`` names the cause (trigger, what, level) and is unique, so a re-run tick or a replayed
    request cannot record the same step twice. Status: open → escalated (a higher level followed) |
    resolved (the work arrived; ``resolution`` says how late) | dismissed (the county checked and
    found nothing) | confirmed (the county checked and opened an accountability case).
    """

    __tablename__ = "escalations"
    __table_args__ = (
        UniqueConstraint("obligation_id", "trigger", "level", name="uq_escalation_level"),
        UniqueConstraint("key", name="uq_escalation_key"),
        Index("ix_escalations_status_level", "status", "level"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str | None = Field(default=None, max_length=200)
    campaign_id: int = Field(sa_column=Column(Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False))
    township_id: int = Field(sa_column=Column(Integer, ForeignKey("org_units.id"), nullable=False, index=True))
    obligation_id: int | None = Field(default=None)
    submission_id: int | None = Field(default=None)
    subject_id: int | None = Field(default=None, description="the village concerned (measures overdue, relapse)")
    rectification_id: int | None = Field(default=None)
    trigger: str = Field(max_length=32)
    level: int = Field(default=1)
    level_key: str = Field(max_length=64)
    level_name: str | None = Field(default=None, max_length=200)
    reason: str = Field(max_length=2000)
    evidence: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    status: str = Field(default=EscalationStatus.OPEN, max_length=16)
    due_on: dt.date | None = Field(default=None, description="the deadline that was missed")
    new_due_on: dt.date | None = Field(default=None, description="the new deadline a supervision order (督办单) sets")
    document_id: int | None = Field(default=None)
    interview_on: dt.date | None = None
    interview_place: str | None = Field(default=None, max_length=200)
    interview_outcome: str | None = Field(default=None, max_length=4000)
    resolution: str | None = Field(default=None, max_length=2000)
    days_late: int | None = None
    decided_by: int | None = Field(default=None)
    resolved_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    version: int = Field(default=1)


class OfficialDocument(SQLModel, table=True):
    """An official document an escalation step produces (催办通知, 督办单, 约谈通知, 通报), numbered per year."""

    __tablename__ = "official_documents"
    __table_args__ = (UniqueConstraint("year", "number", name="uq_document_number"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    year: int
    number: int
    doc_number: str = Field(max_length=64, description="e.g. 清组督〔2027〕3号")
    title: str = Field(max_length=300)
    issuer: str = Field(max_length=100)
    addressee: str = Field(max_length=300)
    body: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    issued_on: dt.date
    html: str
    pdf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sha256: str = Field(max_length=64)
    escalation_id: int | None = Field(default=None, unique=True)
    township_id: int = Field(sa_column=Column(Integer, ForeignKey("org_units.id"), nullable=False, index=True))
    created_at: dt.datetime = Field(sa_type=UTCDateTime)


class AccountabilityCase(SQLModel, table=True):
    """An accountability case (问责): who, why (with the evidence), and what was decided."""

    __tablename__ = "accountability_cases"

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(sa_column=Column(Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False))
    township_id: int = Field(sa_column=Column(Integer, ForeignKey("org_units.id"), nullable=False, index=True))
    escalation_id: int = Field(sa_column=Column(Integer, ForeignKey("escalations.id"), nullable=False, unique=True))
    obligation_id: int | None = Field(default=None)
    trigger: str = Field(max_length=32)
    target_unit_id: int = Field(sa_column=Column(Integer, ForeignKey("org_units.id"), nullable=False))
    target_persons: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reason: str = Field(max_length=4000)
    evidence: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=CaseStatus.OPEN, max_length=16, description="open | decided | closed")
    decision: str | None = Field(default=None, max_length=32)
    decision_note: str | None = Field(default=None, max_length=4000)
    suspension_days: int | None = None
    rating_effect: str | None = Field(default=None, max_length=32)
    rating_year: int | None = Field(default=None, index=True)
    opened_by: int | None = Field(default=None, description="empty when the ladder opened it")
    decided_by: int | None = Field(default=None)
    decided_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_by: int | None = Field(default=None)
    closed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    close_note: str | None = Field(default=None, max_length=4000)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    version: int = Field(default=1)


class Veto(SQLModel, table=True):
    """A one-vote veto (一票否决, 001): the application fails and the unit may not apply again for a while."""

    __tablename__ = "vetoes"

    id: int | None = Field(default=None, primary_key=True)
    definition_key: str = Field(max_length=64, index=True)
    subject_id: int = Field(sa_column=Column(Integer, ForeignKey("org_units.id"), nullable=False, index=True))
    submission_id: int = Field(sa_column=Column(Integer, ForeignKey("submissions.id"), nullable=False))
    check_key: str = Field(max_length=64)
    reason: str = Field(max_length=2000)
    banned_until_year: int
    created_by: int = Field(sa_column=Column(Integer, ForeignKey("users.id"), nullable=False))
    created_at: dt.datetime = Field(sa_type=UTCDateTime)


class VillageRectification(SQLModel, table=True):
    """A weak village's way through rectification: listed → rectifying → applied → accepted/failed →
    consolidating → closed (销号); a relapse (反复回潮) reopens it (004). The campaign's rows that are not
    ``removed`` are its approved list of weak villages (000 §四(一)); the county may add a village later
    (``listed_on``) or remove one still rectifying (``removed_on``)."""

    __tablename__ = "village_rectifications"
    __table_args__ = (UniqueConstraint("campaign_id", "village_id", name="uq_rectification_village"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(sa_column=Column(Integer, ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False))
    village_id: int = Field(sa_column=Column(Integer, ForeignKey("org_units.id"), nullable=False))
    status: str = Field(default=RectificationStatus.RECTIFYING, max_length=16)
    failed_acceptances: int = Field(default=0)
    relapses: int = Field(default=0)
    accepted_on: dt.date | None = None
    consolidation_ends_on: dt.date | None = None
    closed_on: dt.date | None = None
    listed_on: dt.date | None = Field(default=None, description="when the village came on the approved list")
    removed_on: dt.date | None = Field(default=None, description="when the county took it off the list")
    note: str | None = Field(default=None, max_length=2000)
    version: int = Field(default=1)
