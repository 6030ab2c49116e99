"""Moving running campaigns to a newer version of their definition: a preview per campaign, then one transaction
per campaign that never drops a submission, a review or an escalation. Deadlines already met stay met."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from core.clock import china_date
from domain.definition_diff import changed_forms
from domain.definitions import Definition
from domain.errors import ValidationFailed
from domain.planning import CampaignPlan
from domain.vocabulary import CampaignStatus, ObligationStatus, StageStatus, zh_date
from models import Campaign, Obligation, OrgUnit, Stage, Submission
from tasks.accounts import Principal, require_admin
from tasks.audit import append_event
from tasks.launch import load_context, plan_for
from tasks.registry import definition_of, definition_version, refresh

MOVABLE = (ObligationStatus.SCHEDULED, ObligationStatus.OPEN)  # a deadline met, late or missed keeps its date
OPEN_SUBMISSIONS = ("draft", "in_review", "returned")


@dataclass
class CampaignMigration:
    """What moving one campaign would change, and why it is refused if it is."""

    campaign_id: int
    township: str
    from_version: int
    to_version: int
    added: list[dict[str, Any]] = field(default_factory=list)
    moved: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)
    forms_changed: dict[str, str] = field(default_factory=dict)
    open_submissions: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    applied: bool = False

    def public(self) -> dict[str, Any]:
        return asdict(self)


def _deadline(o: Any, title: str | None = None) -> dict[str, Any]:
    return {"key": o.key, "title": title or o.title, "period": o.period, "due_on": o.due_on}


def _compare_obligations(m: CampaignMigration, rows: list[Obligation], plan: CampaignPlan) -> None:
    planned = {o.key: o for o in plan.obligations}
    for ob in rows:
        new = planned.get(ob.key)
        if new is None:
            m.removed.append(_deadline(ob))
            if ob.status not in (ObligationStatus.SCHEDULED, ObligationStatus.WAIVED):
                m.refused.append(f"新版本删去了“{ob.title}”（{ob.period}），但它已{ObligationStatus(ob.status).label}，"
                                 "其填报、提醒和督办记录会失去归属")
        elif new.due_on != ob.due_on:
            entry = _deadline(ob) | {"new_due_on": new.due_on}
            (m.moved if ob.status in MOVABLE else m.kept).append(entry)
    known = {ob.key for ob in rows}
    m.added = [_deadline(o) | {"status": o.status} for o in plan.obligations if o.key not in known]


def _compare_stages(m: CampaignMigration, stages: list[Stage], plan: CampaignPlan) -> None:
    planned = {s.key for s in plan.stages}
    for stage in stages:
        if stage.key not in planned and stage.status != StageStatus.PENDING:
            m.refused.append(f"新版本删去了阶段“{stage.name}”，但它已{StageStatus(stage.status).label}")


def _compare_forms(session: Session, m: CampaignMigration, old: Definition, new: Definition) -> None:
    m.forms_changed = changed_forms(old, new)
    if not m.forms_changed:
        return
    subs = session.exec(select(Submission).where(col(Submission.campaign_id) == m.campaign_id,
                                                 col(Submission.form_key).in_(m.forms_changed),
                                                 col(Submission.status).in_(OPEN_SUBMISSIONS)))
    for sub in subs:
        m.open_submissions.append({"id": sub.id, "title": sub.title, "form": sub.form_key, "status": sub.status})
        if m.forms_changed[sub.form_key] == "removed":
            m.refused.append(f"新版本删去了表单“{old.form(sub.form_key).name}”，但填报“{sub.title}”（编号{sub.id}）仍在办理中")


def preview_one(session: Session, campaign: Campaign, target: Definition, today: dt.date) -> tuple[CampaignMigration, CampaignPlan | None]:
    """What moving ``campaign`` to ``target`` would change (nothing is written)."""
    township = session.get(OrgUnit, campaign.township_id)
    code = township.code if township else ""
    m = CampaignMigration(campaign.id or 0, township.name if township else code, campaign.definition_version, target.version)
    if campaign.status != CampaignStatus.ACTIVE:
        m.refused.append(f"督办任务已{CampaignStatus(campaign.status).label}，不能迁移")
    if target.version <= campaign.definition_version:
        m.refused.append(f"督办任务已按第 {campaign.definition_version} 版办理，只能迁移到更新的版本")
    if m.refused:
        return m, None
    ctx = load_context(session, campaign.definition_key, [code])
    ctx.definition = target
    plan = plan_for(ctx, code, campaign.year, today)
    rows = list(session.exec(select(Obligation).where(col(Obligation.campaign_id) == campaign.id)))
    _compare_obligations(m, rows, plan)
    _compare_stages(m, list(session.exec(select(Stage).where(col(Stage.campaign_id) == campaign.id))), plan)
    _compare_forms(session, m, definition_of(campaign), target)
    return m, plan


def _apply_stages(session: Session, campaign: Campaign, plan: CampaignPlan) -> dict[str, int]:
    stages = {s.key: s for s in session.exec(select(Stage).where(col(Stage.campaign_id) == campaign.id))}
    for sp in plan.stages:
        stage = stages.get(sp.key)
        if stage is None:
            stage = Stage(campaign_id=campaign.id or 0, key=sp.key, name=sp.name, seq=sp.seq, opens_on=sp.opens_on,
                          closes_on=sp.closes_on, gate_key=sp.gate_key, status=sp.status)
        elif stage.status in (StageStatus.PENDING, StageStatus.OPEN):
            stage.name, stage.seq, stage.opens_on, stage.closes_on = sp.name, sp.seq, sp.opens_on, sp.closes_on
            stage.version += 1
        session.add(stage)
        stages[sp.key] = stage
    planned = {sp.key for sp in plan.stages}
    for key, stage in list(stages.items()):
        if key not in planned:  # pending (else refused): nothing hangs on it
            session.delete(stage)
            del stages[key]
    session.flush()
    return {k: s.id or 0 for k, s in stages.items()}


def _apply_obligations(session: Session, campaign: Campaign, plan: CampaignPlan, stage_ids: dict[str, int]) -> None:
    rows = {ob.key: ob for ob in session.exec(select(Obligation).where(col(Obligation.campaign_id) == campaign.id))}
    units = {u.code: u.id for u in session.exec(select(OrgUnit).where(
        (col(OrgUnit.id) == campaign.township_id) | (col(OrgUnit.parent_id) == campaign.township_id)))}
    for op in plan.obligations:
        ob = rows.pop(op.key, None)
        stage_id = stage_ids.get(op.stage_key) if op.stage_key else None
        if ob is None:
            session.add(Obligation(campaign_id=campaign.id or 0, stage_id=stage_id, key=op.key, rule_key=op.rule_key,
                                   kind=op.kind, title=op.title, subject_id=units[op.subject_code] or 0, period=op.period,
                                   opens_on=op.opens_on, nominal_due_on=op.nominal_due_on, due_on=op.due_on,
                                   policy=op.policy, status=op.status))
        elif ob.status in MOVABLE:
            ob.title, ob.stage_id, ob.opens_on, ob.nominal_due_on, ob.due_on, ob.policy = (
                op.title, stage_id, op.opens_on, op.nominal_due_on, op.due_on, op.policy)
            ob.version += 1
            session.add(ob)
    for ob in rows.values():  # removed by the new version: only never-opened or waived ones (else refused)
        session.delete(ob)
    session.flush()


def apply_one(session: Session, principal: Principal, now: dt.datetime, campaign: Campaign, m: CampaignMigration,
              plan: CampaignPlan) -> None:
    """Move one campaign as previewed; audited; the caller commits (one transaction per campaign)."""
    stage_ids = _apply_stages(session, campaign, plan)
    _apply_obligations(session, campaign, plan, stage_ids)
    campaign.definition_version = m.to_version
    campaign.version += 1
    session.add(campaign)
    append_event(session, actor_id=principal.user.id, actor=principal.user.username, action="campaign.migrate",
                 subject_type="campaign", subject_id=campaign.id or 0, township_id=campaign.township_id,
                 before={"definition_version": m.from_version},
                 after={"definition_version": m.to_version, "added": len(m.added), "moved": len(m.moved),
                        "removed": len(m.removed)}, now=now)
    from tasks.tick import open_obligations

    open_obligations(session, now, campaign_id=campaign.id)  # windows of added deadlines already open
    m.applied = True


def _chosen(session: Session, key: str, campaign_ids: list[int] | None, townships: list[str] | None,
            year: int | None) -> list[Campaign]:
    if not (campaign_ids or townships or year):
        raise ValidationFailed("请选择要迁移的督办任务：编号列表、乡镇编码列表或年度",
                               errors=[{"field": "campaign_ids", "message": "choose campaigns"}])
    stmt = select(Campaign).where(col(Campaign.definition_key) == key)
    if campaign_ids:
        stmt = stmt.where(col(Campaign.id).in_(campaign_ids))
    if townships:
        ids = session.exec(select(OrgUnit.id).where(col(OrgUnit.code).in_(townships))).all()
        stmt = stmt.where(col(Campaign.township_id).in_(ids))
    if year:
        stmt = stmt.where(col(Campaign.year) == year)
    return list(session.exec(stmt.order_by(col(Campaign.id))))


def migrate(session: Session, principal: Principal, now: dt.datetime, key: str, to_version: int, *,
            campaign_ids: list[int] | None = None, townships: list[str] | None = None, year: int | None = None,
            apply: bool = False) -> list[CampaignMigration]:
    """Preview (``apply=False``) or apply the move of the chosen campaigns of ``key`` to ``to_version``. Each
    campaign is committed on its own; a refused one is left as it was, with the reasons."""
    require_admin(principal)
    refresh(session)
    target = definition_version(key, to_version, session)
    out = []
    for campaign in _chosen(session, key, campaign_ids, townships, year):
        m, plan = preview_one(session, campaign, target, china_date(now))
        if apply and plan is not None and not m.refused:
            apply_one(session, principal, now, campaign, m, plan)
            session.commit()
        out.append(m)
    if not apply:
        session.rollback()
    return out


def describe(m: CampaignMigration) -> str:
    """One line in Chinese for the CLI and the page."""
    moved = "；".join(f"{x['title']} {zh_date(x['due_on'])}→{zh_date(x['new_due_on'])}" for x in m.moved[:3])
    return (f"{m.township}（编号{m.campaign_id}）第{m.from_version}版→第{m.to_version}版：新增 {len(m.added)} 项，"
            f"调整 {len(m.moved)} 项{('（' + moved + '）') if moved else ''}，删去 {len(m.removed)} 项"
            + (f"；不能迁移：{'；'.join(m.refused)}" if m.refused else ""))
