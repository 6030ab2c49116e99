"""Write a campaign with its stages and every obligation of its year, in one transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.bulk import insert_rows, new_ids
from core.clock import china_date
from core.settings import get_settings
from domain.calendar import WorkCalendar
from domain.definitions import Definition
from domain.errors import Conflict, DubanError, ValidationFailed
from domain.planning import (
    CampaignPlan,
    LateDeadline,
    LateStart,
    OrgRef,
    YearPlan,
    apply_late_start,
    plan_township,
    plan_year,
)
from domain.vocabulary import CampaignStatus, ObligationStatus, period_label
from models import Campaign, IdempotencyRecord, Obligation, OrgUnit, Stage
from tasks.audit import SYSTEM, AuditActor, EventSpec, append_events
from tasks.calendar import load_work_calendar
from tasks.definitions import launchable


class LaunchStatus(StrEnum):
    """What a launch did for one township: an answer to its caller, not a status stored on a row."""

    CREATED = "created"
    REPLAYED = "replayed"  # the same Idempotency-Key again: the campaign it created the first time
    EXISTS = "exists"  # launched before; ``detail`` says when
    FAILED = "failed"  # in a batch only: this township failed (``detail`` says why), the others went on


@dataclass(frozen=True)
class LaunchOutcome:
    campaign_id: int
    status: LaunchStatus
    detail: str | None = None
    affected: list[dict[str, Any]] = field(default_factory=list)  # the deadlines past at launch (``late_answer``)

    @property
    def created(self) -> bool:
        return self.status == LaunchStatus.CREATED


class Unit(NamedTuple):
    """A township or a village as a launch reads it: the columns planning and writing need, not an ORM object."""

    id: int
    code: str
    name: str
    kind: str
    key_contact_class: str | None
    collective_income: int | None
    parent_id: int | None


_UNIT_COLUMNS = (col(OrgUnit.id), col(OrgUnit.code), col(OrgUnit.name), col(OrgUnit.kind),
                 col(OrgUnit.key_contact_class), col(OrgUnit.collective_income), col(OrgUnit.parent_id))


@dataclass
class LaunchContext:
    """What planning needs, read once per batch instead of once per township."""

    definition: Definition
    calendar: WorkCalendar
    townships: dict[str, Unit]
    villages: dict[int, list[Unit]]
    year_plans: dict[tuple[str, int, int, dt.date], YearPlan] = field(default_factory=dict)
    _names: dict[str, str] | None = None

    def year_plan(self, year: int, today: dt.date) -> YearPlan:
        """The campaign of ``year`` as launched ``today``, planned once for every township of the batch."""
        key = (self.definition.key, self.definition.version, year, today)
        if key not in self.year_plans:
            self.year_plans[key] = plan_year(self.definition, year, self.calendar, today)
        return self.year_plans[key]

    def names(self) -> dict[str, str]:
        """Name by code of every township and village in the context."""
        if self._names is None:
            self._names = {t.code: t.name for t in self.townships.values()} | {
                v.code: v.name for vs in self.villages.values() for v in vs}
        return self._names


def request_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def check_year(definition: Definition, year: int) -> None:
    if definition.desk:  # the desk's containers fill as items are assigned (tasks.desk)
        raise ValidationFailed(f"“{definition.name}”是督办台的事项容器，不能作为督办活动启动；请在督办台交办事项",
                               errors=[{"field": "definition", "message": "not launchable"}])
    settings = get_settings()
    lo, hi = definition.years or (settings.min_year, settings.max_year)
    lo, hi = max(lo, settings.min_year), min(hi, settings.max_year)
    if not lo <= year <= hi:
        raise ValidationFailed(
            f"年度 {year} 超出范围：“{definition.name}”可启动的年度为 {lo}–{hi}",
            errors=[{"field": "year", "message": f"must be between {lo} and {hi}"}],
        )


def load_context(session: Session, definition_key: str, township_codes: Sequence[str] | None) -> LaunchContext:
    definition = launchable(session, definition_key)
    stmt = sa_select(*_UNIT_COLUMNS).where(col(OrgUnit.kind) == "township")
    if township_codes is not None:
        stmt = stmt.where(col(OrgUnit.code).in_(list(township_codes)))
    townships = {t.code: t for t in map(Unit._make, session.execute(stmt))}
    villages: dict[int, list[Unit]] = defaultdict(list)
    if townships:
        ids = [t.id for t in townships.values()]
        vstmt = sa_select(*_UNIT_COLUMNS).where(col(OrgUnit.kind) == "village", col(OrgUnit.parent_id).in_(ids))
        for village in map(Unit._make, session.execute(vstmt.order_by(col(OrgUnit.code)))):
            villages[village.parent_id or 0].append(village)
    return LaunchContext(definition, load_work_calendar(session), townships, villages)


def _ref(unit: Unit) -> OrgRef:
    return OrgRef(unit.code, unit.name, unit.kind, unit.key_contact_class, unit.collective_income)


def plan_for(ctx: LaunchContext, township_code: str, year: int, today: dt.date) -> CampaignPlan:
    township = ctx.townships.get(township_code)
    if township is None:
        raise ValidationFailed(
            f"乡镇编码“{township_code}”不存在（或不是乡镇）；请用 GET /api/v1/org-units?kind=township 查询",
            errors=[{"field": "township", "message": "unknown township code"}],
        )
    check_year(ctx.definition, year)
    villages = [_ref(v) for v in ctx.villages.get(township.id or 0, [])]
    return plan_township(ctx.year_plan(year, today), _ref(township), villages)


def plan_late(ctx: LaunchContext, township_code: str, year: int, today: dt.date,
              late: LateStart | None) -> tuple[CampaignPlan, list[dict[str, Any]]]:
    """The township's plan with the deadlines already past handled as the launcher chose (waived by default),
    and those deadlines as the launch answers them."""
    plan = plan_for(ctx, township_code, year, today)
    plan, affected = apply_late_start(plan, ctx.definition, ctx.calendar, today, late or LateStart())
    return plan, late_answer(ctx, affected)


def late_answer(ctx: LaunchContext, affected: Sequence[LateDeadline]) -> list[dict[str, Any]]:
    if not affected:
        return []
    names = ctx.names()
    return [{"key": a.key, "title": a.title, "subject": a.subject_code, "subject_name": names.get(a.subject_code, a.subject_code),
             "period": a.period, "period_label": period_label(a.period), "due_on": a.due_on, "catch_up_on": a.catch_up_on}
            for a in affected]


def write_campaign(
    session: Session,
    ctx: LaunchContext,
    plan: CampaignPlan,
    now: dt.datetime,
    idempotency: tuple[str, str] | None = None,
    by: AuditActor = SYSTEM,
) -> int:
    """Insert the campaign, its stages and its obligations, and the launch's audit event; the caller commits."""
    (campaign_id,) = write_campaigns(session, ctx, [plan], now, by)
    if idempotency:
        session.add(IdempotencyRecord(key=idempotency[0], request_hash=idempotency[1], campaign_id=campaign_id,
                                      created_at=now))
    return campaign_id


_CAMPAIGN_COLUMNS = ("id", "definition_key", "definition_version", "township_id", "year", "status", "launched_at",
                     "calendar_warnings", "version")
_STAGE_COLUMNS = ("id", "campaign_id", "key", "name", "seq", "opens_on", "closes_on", "gate_key", "status", "version")
_OBLIGATION_COLUMNS = ("campaign_id", "stage_id", "key", "rule_key", "kind", "title", "subject_id", "period",
                       "opens_on", "nominal_due_on", "due_on", "policy", "status", "escalation_level", "version")


def write_campaigns(
    session: Session,
    ctx: LaunchContext,
    plans: Sequence[CampaignPlan],
    now: dt.datetime,
    by: AuditActor = SYSTEM,
) -> list[int]:
    """Insert the campaigns of ``plans``, their stages and their obligations, and one launch audit event per
    campaign, on the session's connection (no ORM unit of work); the caller commits. Returns the campaigns' ids
    in the order of ``plans``.

    The ids of the campaigns and stages are taken first (:func:`core.bulk.new_ids`), so every table is written
    with one statement of plain tuples (:func:`core.bulk.insert_rows`: SQLite ``executemany``, PostgreSQL ``COPY``)."""
    if not plans:
        return []
    conn = session.connection()
    townships = [ctx.townships[plan.township_code] for plan in plans]
    campaign_ids = new_ids(conn, Campaign.__table__, len(plans))  # type: ignore[attr-defined]
    insert_rows(conn, Campaign.__table__, _CAMPAIGN_COLUMNS, [  # type: ignore[attr-defined]
        (campaign_id, plan.definition_key, plan.definition_version, township.id, plan.year,
         CampaignStatus.ACTIVE.value, now, plan.warnings, 1)
        for plan, township, campaign_id in zip(plans, townships, campaign_ids, strict=True)])
    stage_ids = iter(new_ids(conn, Stage.__table__, sum(len(plan.stages) for plan in plans)))  # type: ignore[attr-defined]
    stage_rows: list[tuple[Any, ...]] = []
    obligation_rows: list[tuple[Any, ...]] = []
    events: list[EventSpec] = []
    for plan, township, campaign_id in zip(plans, townships, campaign_ids, strict=True):
        stage_id: dict[str | None, int | None] = {None: None}
        for s in plan.stages:
            stage_id[s.key] = next(stage_ids)
            stage_rows.append((stage_id[s.key], campaign_id, s.key, s.name, s.seq, s.opens_on, s.closes_on, s.gate_key,
                               s.status, 1))
        subject_id = {v.code: v.id for v in ctx.villages.get(township.id or 0, [])}
        subject_id[township.code] = township.id
        obligation_rows.extend(
            (campaign_id, stage_id[o.stage_key or None], o.key, o.rule_key, o.kind, o.title, subject_id[o.subject_code],
             o.period, o.opens_on, o.nominal_due_on, o.due_on, o.policy, o.status, 0, 1)
            for o in plan.obligations)
        events.append(EventSpec(by.id, by.name, "campaign.launch", "campaign", campaign_id, township.id, after={
            "definition": plan.definition_key, "version": plan.definition_version, "year": plan.year,
            "stages": len(plan.stages), "obligations": len(plan.obligations)}))
    insert_rows(conn, Stage.__table__, _STAGE_COLUMNS, stage_rows)  # type: ignore[attr-defined]
    insert_rows(conn, Obligation.__table__, _OBLIGATION_COLUMNS, obligation_rows)  # type: ignore[attr-defined]
    append_events(session, events, now=now)
    opened = [campaign_id for plan, campaign_id in zip(plans, campaign_ids, strict=True)
              if any(o.status == ObligationStatus.OPEN for o in plan.obligations)]
    if opened:
        from tasks.tick import open_obligations

        for campaign_id in opened:  # drafts and requests for windows already open
            open_obligations(session, now, campaign_id=campaign_id)
    return campaign_ids


def _existing_campaign(session: Session, ctx: LaunchContext, township_code: str, year: int) -> Campaign | None:
    township = ctx.townships.get(township_code)
    if township is None:
        return None
    return session.exec(
        select(Campaign).where(
            Campaign.definition_key == ctx.definition.key,
            Campaign.township_id == township.id,
            Campaign.year == year,
        )
    ).first()


def _replay(session: Session, idempotency: tuple[str, str] | None) -> LaunchOutcome | None:
    if not idempotency:
        return None
    record = session.get(IdempotencyRecord, idempotency[0])
    if record is None:
        return None
    if record.request_hash != idempotency[1]:
        raise Conflict(
            "这个 Idempotency-Key 已用于另一个不同的启动请求；请为新请求使用新的 Idempotency-Key",
            errors=[{"field": "Idempotency-Key", "message": "reused with a different request body"}],
        )
    return LaunchOutcome(record.campaign_id, LaunchStatus.REPLAYED)


def _duplicate(campaign: Campaign, ctx: LaunchContext, township_code: str) -> Conflict:
    township = ctx.townships[township_code]
    return Conflict(
        f"{township.name}（{township_code}）{campaign.year}年的“{ctx.definition.name}”已经启动，"
        f"编号 {campaign.id}：请查看 GET /api/v1/campaigns/{campaign.id}，不要重复启动",
        campaign_id=campaign.id,
    )


def launch_in_session(
    session: Session,
    ctx: LaunchContext,
    township_code: str,
    year: int,
    now: dt.datetime,
    idempotency: tuple[str, str] | None = None,
    late: LateStart | None = None,
    by: AuditActor = SYSTEM,
) -> LaunchOutcome:
    """Launch one township's campaign in its own transaction; safe to call again after any failure."""
    replay = _replay(session, idempotency)
    if replay:
        return replay
    plan, affected = plan_late(ctx, township_code, year, china_date(now), late)
    existing = _existing_campaign(session, ctx, township_code, year)
    if existing is not None:
        # A concurrent launch with the same key may have committed since the first look (on PostgreSQL
        # each statement sees the latest commits): then this is its replay, not a duplicate.
        replay = _replay(session, idempotency)
        if replay:
            return replay
        raise _duplicate(existing, ctx, township_code)
    try:
        campaign_id = write_campaign(session, ctx, plan, now, idempotency, by)
        session.commit()
    except IntegrityError:
        # A concurrent launch won the unique key; answer as if we had come second.
        session.rollback()
        replay = _replay(session, idempotency)
        if replay:
            return replay
        existing = _existing_campaign(session, ctx, township_code, year)
        if existing is None:
            raise
        raise _duplicate(existing, ctx, township_code) from None
    return LaunchOutcome(campaign_id, LaunchStatus.CREATED, affected=affected)


def launch_one(
    engine: Engine,
    definition_key: str,
    township_code: str,
    year: int,
    now: dt.datetime,
    idempotency: tuple[str, str] | None = None,
    late: LateStart | None = None,
    by: AuditActor = SYSTEM,
) -> LaunchOutcome:
    with Session(engine, expire_on_commit=False) as session:
        ctx = load_context(session, definition_key, [township_code])
        session.commit()  # end the read transaction before the write one
        try:
            return launch_in_session(session, ctx, township_code, year, now, idempotency, late, by)
        except Conflict as exc:
            # Launched before: the desired state holds, so the step succeeds and says so.
            if exc.extra.get("campaign_id") is None:
                raise
            return LaunchOutcome(int(exc.extra["campaign_id"]), LaunchStatus.EXISTS, exc.detail)


def launch_many(
    engine: Engine, definition_key: str, township_codes: Sequence[str], year: int, now: dt.datetime,
    late: LateStart | None = None,
    by: AuditActor = SYSTEM,
) -> list[dict[str, Any]]:
    """Launch a chunk of townships in one transaction, so one failure stops no other; safe to re-run after any
    crash (launched townships come back as ``exists``).

    The chunk's campaigns are written together (:func:`write_campaigns`) under one savepoint; if that fails (a
    concurrent launch took a township's unique key, a township's row is refused), the chunk is written again
    with a savepoint per township, so only the township that failed is left out."""
    today = china_date(now)
    with Session(engine, expire_on_commit=False) as session:
        ctx = load_context(session, definition_key, township_codes)
        ids = {t.id: code for code, t in ctx.townships.items()}
        existing = {
            ids[c.township_id]: c for c in session.exec(select(Campaign).where(
                Campaign.definition_key == definition_key, Campaign.year == year,
                Campaign.township_id.in_(list(ids)),  # type: ignore[attr-defined]
            ))
        } if ids else {}
        items: list[dict[str, Any]] = []
        planned: list[tuple[dict[str, Any], CampaignPlan]] = []
        for code in township_codes:
            if code in existing:
                items.append({"township": code, "status": LaunchStatus.EXISTS, "campaign_id": existing[code].id,
                              "detail": _duplicate(existing[code], ctx, code).detail})
                continue
            try:
                plan, affected = plan_late(ctx, code, year, today, late)
            except DubanError as exc:
                items.append({"township": code, "status": LaunchStatus.FAILED, "detail": exc.detail})
                continue
            item = {"township": code, "status": LaunchStatus.CREATED, "campaign_id": 0, "affected": affected}
            items.append(item)
            planned.append((item, plan))
        try:
            with session.begin_nested():
                campaign_ids = write_campaigns(session, ctx, [plan for _, plan in planned], now, by=by)
            for (item, _), campaign_id in zip(planned, campaign_ids, strict=True):
                item["campaign_id"] = campaign_id
        except (DubanError, IntegrityError):
            for item, plan in planned:
                _write_alone(session, ctx, item, plan, year, now, by)
        session.commit()
    return items


def _write_alone(session: Session, ctx: LaunchContext, item: dict[str, Any], plan: CampaignPlan, year: int,
                 now: dt.datetime, by: AuditActor) -> None:
    """Write one township's campaign under its own savepoint and make ``item`` say what became of it."""
    code = plan.township_code
    try:
        with session.begin_nested():
            (item["campaign_id"],) = write_campaigns(session, ctx, [plan], now, by=by)
        return
    except DubanError as exc:
        outcome: dict[str, Any] = {"status": LaunchStatus.FAILED, "detail": exc.detail}
    except IntegrityError:
        found = _existing_campaign(session, ctx, code, year)
        outcome = {"status": LaunchStatus.FAILED, "detail": "数据库唯一约束冲突，请重试"} if found is None else {
            "status": LaunchStatus.EXISTS, "campaign_id": found.id, "detail": _duplicate(found, ctx, code).detail}
    item.clear()
    item.update({"township": code, **outcome})


def all_township_codes(session: Session) -> list[str]:
    return list(session.exec(select(OrgUnit.code).where(OrgUnit.kind == "township").order_by(OrgUnit.code)))
