"""The approved weak-village list (后进薄弱村党组织名单, 000_a28a7778217e042c.txt §四(一)) and the village work that
follows it.

The list's final approval opens a rectification record per listed village (``open_list``); from then on the
campaign's records that are not ``removed`` are the list, and the county may add a village to it or take one
off (``tasks.rectification``). Everything owed per village on the list — its 一村一策 plan (000 §四(二), 004 §一.2),
the weekly reports of the key-contact villages (B/C) among them (004 §一.3) — is an obligation of
``subject: {kind: village, villages: {listed: true}}``, planned by ``follow`` for the listed villages only, when the
list is approved and whenever it changes: a village added later owes what is still ahead (a plan due too soon
gets ``listed_late_workdays``); a village taken off owes nothing more (its open deadlines are waived, its drafts
withdrawn, its running escalations resolved). A gate answered per listed village passes only when every listed
village has its approved answer (``plans_missing``); a stage whose gate has nothing to answer (an empty list) is
not applicable.

``known_weak_villages`` are the villages the county already knows are weak, which a list must not leave out
(000 §四(三); the zero-report trigger flags it for the county's check)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from core.clock import china_date
from domain.definitions import Definition, FieldType
from domain.planning import OrgRef, owes, plan_listed
from domain.triggers import MEASURES_OVERDUE, OVERDUE
from domain.vocabulary import ObligationStatus, RectificationStatus, StageStatus, SubmissionStatus
from models import Campaign, Obligation, OrgUnit, Stage, Submission, VillageRectification
from tasks import escalation
from tasks.audit import append_event
from tasks.calendar import load_work_calendar

Actor = tuple[int | None, str]  # who changed the list: (user id, username), or (None, "system")
SYSTEM: Actor = (None, "system")
STILL_OWED = (ObligationStatus.SCHEDULED, ObligationStatus.OPEN, ObligationStatus.SUBMITTED, ObligationStatus.MISSED)
STILL_WEAK = (RectificationStatus.RECTIFYING, RectificationStatus.APPLIED)
WITHDRAWABLE = (SubmissionStatus.DRAFT, SubmissionStatus.RETURNED, SubmissionStatus.IN_REVIEW)
CONTACT_CLASS = {"B": "市级B类重点联系村", "C": "县级C类重点联系村"}


# ---- the list ----------------------------------------------------------------------------------------------


def listed(session: Session, campaign_id: int) -> list[tuple[VillageRectification, OrgUnit]]:
    """The villages on the campaign's approved list (not removed), by code, with their records."""
    return list(session.exec(
        select(VillageRectification, OrgUnit).join(OrgUnit, col(VillageRectification.village_id) == OrgUnit.id)
        .where(VillageRectification.campaign_id == campaign_id,
               col(VillageRectification.status) != RectificationStatus.REMOVED)
        .order_by(col(OrgUnit.code))))


def listed_ids(session: Session, campaign_id: int) -> set[int]:
    return {village.id or 0 for _, village in listed(session, campaign_id)}


def list_form(definition: Definition) -> str | None:
    """The form of the definition's weak-village list (its obligation of kind ``list``)."""
    return next((ob.form for ob in definition.obligations if ob.kind == "list"), None)


def list_approved(session: Session, campaign: Campaign, definition: Definition) -> bool:
    """Whether the county has approved the campaign's list (an empty one too)."""
    form = list_form(definition)
    return form is not None and session.exec(select(Submission.id).where(
        Submission.campaign_id == campaign.id, Submission.form_key == form,
        Submission.status == SubmissionStatus.APPROVED)).first() is not None


def open_list(session: Session, sub: Submission, definition: Definition, campaign: Campaign, now: dt.datetime) -> None:
    """The list's final approval: a rectification record per listed village, then the village work follows."""
    codes: set[str] = set()
    for field in definition.form(sub.form_key).fields:
        if field.type is FieldType.VILLAGES:
            codes.update(sub.data.get(field.key) or [])
    villages = {u.code: u.id or 0 for u in session.exec(select(OrgUnit).where(
        OrgUnit.parent_id == sub.township_id, OrgUnit.kind == "village"))}
    known = {r.village_id for r in session.exec(select(VillageRectification).where(
        VillageRectification.campaign_id == sub.campaign_id))}
    for code in sorted(codes):
        if villages[code] not in known:
            session.add(VillageRectification(campaign_id=sub.campaign_id, village_id=villages[code],
                                             status=RectificationStatus.RECTIFYING, listed_on=china_date(now)))
    session.flush()
    follow(session, campaign, definition, now)


# ---- what the list owes ------------------------------------------------------------------------------------


def _ref(unit: OrgUnit) -> OrgRef:
    return OrgRef(unit.code, unit.name, unit.kind, unit.key_contact_class, unit.collective_income)


def follow(session: Session, campaign: Campaign, definition: Definition, now: dt.datetime,
           actor: Actor = SYSTEM) -> dict[str, int]:
    """Make the obligations of listed villages match the list as it is ``now``: plan what the listed villages
    owe and do not have yet (or had waived), waive what villages off the list still owed, then open the windows
    already open (drafts and requests). Idempotent. Returns how many were added, reopened and waived."""
    rules = {ob.key for ob in definition.obligations if ob.listed}
    if not rules:
        return {}
    today = china_date(now)
    villages = [unit for _, unit in listed(session, campaign.id or 0)]
    plans = {p.key: p for p in plan_listed(definition, [_ref(v) for v in villages], campaign.year,
                                           load_work_calendar(session), today)}
    existing = {o.key: o for o in session.exec(select(Obligation).where(
        Obligation.campaign_id == campaign.id, col(Obligation.rule_key).in_(rules)))}
    stages = {s.key: s.id for s in session.exec(select(Stage).where(Stage.campaign_id == campaign.id))}
    ids = {v.code: v.id or 0 for v in villages}
    counts = {"added": 0, "reopened": 0, "waived": 0}
    for key, plan in plans.items():
        row = existing.get(key)
        if plan.status == ObligationStatus.WAIVED:
            continue  # over before the village was listed: never owed
        if row is None:
            session.add(Obligation(
                campaign_id=campaign.id or 0, stage_id=stages.get(plan.stage_key) if plan.stage_key else None,
                key=plan.key, rule_key=plan.rule_key, kind=plan.kind, title=plan.title, subject_id=ids[plan.subject_code],
                period=plan.period, opens_on=plan.opens_on, nominal_due_on=plan.nominal_due_on, due_on=plan.due_on,
                policy=plan.policy, status=plan.status))
            counts["added"] += 1
        elif row.status == ObligationStatus.WAIVED:
            _set_status(session, row, campaign, plan.status, now, actor, due_on=plan.due_on)
            counts["reopened"] += 1
    for key, row in existing.items():
        if key not in plans and row.status in STILL_OWED:
            _waive(session, row, campaign, now, actor)
            counts["waived"] += 1
    session.flush()
    _follow_stages(session, campaign, definition, bool(villages), now, actor)
    from tasks.tick import open_obligations  # the tick opens windows; it does not follow lists

    open_obligations(session, now, campaign_id=campaign.id)
    return counts


def _set_status(session: Session, row: Obligation, campaign: Campaign, status: str, now: dt.datetime, actor: Actor,
                due_on: dt.date | None = None) -> None:
    before: dict[str, Any] = {"status": row.status, "due_on": row.due_on}
    row.status = status
    row.due_on = due_on or row.due_on
    row.version += 1
    session.add(row)
    append_event(session, actor_id=actor[0], actor=actor[1], action=f"obligation.{status}", subject_type="obligation",
                 subject_id=row.id or 0, township_id=campaign.township_id, before=before,
                 after={"status": status, "due_on": row.due_on, "reason": "weak_village_list"}, now=now)


def _waive(session: Session, row: Obligation, campaign: Campaign, now: dt.datetime, actor: Actor) -> None:
    """A village off the list owes this no more: the deadline is waived, its material withdrawn, its ladder stopped."""
    _set_status(session, row, campaign, ObligationStatus.WAIVED, now, actor)
    for sub in session.exec(select(Submission).where(Submission.obligation_id == row.id,
                                                     col(Submission.status).in_(WITHDRAWABLE))):
        before = {"status": sub.status}
        sub.status, sub.updated_at, sub.version = SubmissionStatus.WITHDRAWN, now, sub.version + 1
        session.add(sub)
        append_event(session, actor_id=actor[0], actor=actor[1], action="submission.withdraw", subject_type="submission",
                     subject_id=sub.id or 0, township_id=campaign.township_id, before=before,
                     after={"status": SubmissionStatus.WITHDRAWN, "reason": "weak_village_list"}, now=now)
    escalation.resolve(session, now, trigger=OVERDUE.key, what="移出整顿村名单，不再需要报送", obligation_id=row.id)


def stop_rectification(session: Session, row: VillageRectification, now: dt.datetime) -> None:
    """A village taken off the list: the ladder of its overdue measures stops."""
    escalation.resolve(session, now, trigger=MEASURES_OVERDUE.key, what="移出整顿村名单", rectification_id=row.id)


def _follow_stages(session: Session, campaign: Campaign, definition: Definition, any_listed: bool, now: dt.datetime,
                   actor: Actor) -> None:
    """A stage whose gate is answered per listed village has nothing to do when the list is empty (不适用); it opens
    again when a village comes on the list."""
    forms = {ob.form for ob in definition.obligations if ob.listed and ob.form}
    gates = {g.key for g in definition.gates if g.form in forms}
    for stage in session.exec(select(Stage).where(Stage.campaign_id == campaign.id, col(Stage.gate_key).in_(gates))):
        before = stage.status
        if not any_listed and stage.status in (StageStatus.PENDING, StageStatus.OPEN, StageStatus.OVERDUE):
            stage.status = StageStatus.WAIVED
        elif any_listed and stage.status == StageStatus.WAIVED:
            stage.status = StageStatus.OPEN if stage.opens_on <= china_date(now) else StageStatus.PENDING
        else:
            continue
        stage.version += 1
        session.add(stage)
        append_event(session, actor_id=actor[0], actor=actor[1], action=f"stage.{stage.status}", subject_type="stage",
                     subject_id=stage.id or 0, township_id=campaign.township_id, before={"status": before},
                     after={"status": stage.status, "reason": "weak_village_list"}, now=now)


def plans_missing(session: Session, campaign: Campaign, definition: Definition, gate_key: str) -> list[OrgUnit]:
    """一村一策: the listed villages that have no approved answer to a gate answered per listed village (its form is
    the form of an obligation of listed villages); empty for any other gate. The gate passes only when it is
    empty (000 §四(二), 004 §一.2)."""
    form = definition.gate(gate_key).form
    rules = [ob for ob in definition.obligations if ob.listed and ob.form == form]
    if not rules:
        return []
    approved = set(session.exec(select(Submission.subject_id).where(
        Submission.campaign_id == campaign.id, Submission.form_key == form, Submission.status == SubmissionStatus.APPROVED)))
    return [village for _, village in listed(session, campaign.id or 0)
            if village.id not in approved and any(owes(rule, _ref(village)) for rule in rules)]


# ---- villages known to be weak -----------------------------------------------------------------------------


@dataclass(frozen=True)
class KnownWeak:
    """A village the county already knows is weak, and why."""

    code: str
    name: str
    why: tuple[str, ...]

    @property
    def described(self) -> str:
        return f"{self.name}（{'，'.join(self.why)}）"


def known_weak_villages(session: Session, township_id: int, campaign_id: int) -> list[KnownWeak]:
    """The township's villages the county already knows are weak (000 §四(三)): key-contact villages (重点联系村,
    classes B/C, 004 §一.3), and villages still rectifying under another campaign — relapsed (反复回潮) or failed at
    acceptance (验收未通过) included. By code."""
    villages = {u.id or 0: u for u in session.exec(select(OrgUnit).where(OrgUnit.kind == "village",
                                                                         OrgUnit.parent_id == township_id))}
    why: dict[int, list[str]] = {vid: [CONTACT_CLASS[u.key_contact_class]] for vid, u in villages.items()
                                 if u.key_contact_class in CONTACT_CLASS}
    if villages:
        for row, year in session.exec(
                select(VillageRectification, Campaign.year).join(Campaign, col(VillageRectification.campaign_id) == Campaign.id)
                .where(col(VillageRectification.village_id).in_(list(villages)), VillageRectification.campaign_id != campaign_id,
                       col(VillageRectification.status).in_(STILL_WEAK))):
            reasons = why.setdefault(row.village_id, [])
            reasons.append(f"{year}年整顿尚未销号")
            reasons += ["曾反复回潮"] * (row.relapses > 0) + ["验收未通过"] * (row.failed_acceptances > 0)
    return sorted((KnownWeak(villages[vid].code, villages[vid].name, tuple(dict.fromkeys(r))) for vid, r in why.items()),
                  key=lambda k: k.code)
