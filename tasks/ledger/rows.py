"""The registered ledgers' rows, each as its API list returns them (same scope, same filters), in the county's
columns. The rectification-ledger fields follow 001 (整改台账: content, responsible person, time limit) and the
一村一策 table of 004."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from domain import accountability as case_rules
from domain.definitions import TRIGGER_LABELS
from domain.vocabulary import (
    CampaignStatus,
    CaseStatus,
    EscalationStatus,
    ObligationStatus,
    RectificationStatus,
    StageStatus,
    SubmissionStatus,
    period_label,
)
from models import (
    AccountabilityCase,
    Campaign,
    Escalation,
    GateOverride,
    Obligation,
    OrgUnit,
    Stage,
    Submission,
    VillageRectification,
)
from tasks.accounts import Principal
from tasks.ledger.excel import Column
from tasks.ledger.registry import Ledger, LedgerFilters, Rows, register
from tasks.registry import get_definitions
from tasks.scope import scoped

S = TypeVar("S")

ON_TIME = {"met": "是", "late": "否", "missed": "否"}


def _filtered(stmt: S, principal: Principal, filters: LedgerFilters, *, township_id: Any, township_code: Any = None,
              campaign_id: Any = Campaign.id, status: Any = None) -> S:
    """``stmt`` scoped to the caller by the rows' township (``township_id``) and narrowed by the filters given:
    the township's code, the campaign's year and definition, the campaign, the rows' status. The statement
    joins ``Campaign``; a column left None is a filter the ledger does not accept (``ledger_rows`` refuses it)."""
    columns = {"township": township_code, "year": Campaign.year, "definition": Campaign.definition_key,
               "campaign": campaign_id, "status": status}
    narrowed: Any = scoped(stmt, principal, township_id)
    for name in filters.given():
        if columns[name] is None:
            raise ValueError(f"this ledger has no {name} filter")
        narrowed = narrowed.where(columns[name] == getattr(filters, name))
    return narrowed  # type: ignore[no-any-return]


def _definition_name(key: str) -> str:
    definition = get_definitions().get(key)
    return definition.name if definition else key


def _ladder_name(definition_key: str, level: int | None = None, key: str | None = None) -> str:
    definition = get_definitions().get(definition_key)
    if definition is None:
        return key or (str(level) if level else "")
    ladder = definition.escalation.ladder
    if key is not None:
        return next((lv.name for lv in ladder if lv.key == key), key)
    if level and 0 < level <= len(ladder):
        return ladder[level - 1].name
    return ""


# ---- campaigns (督办任务) ---------------------------------------------------------------------------------


def _current_stage(stages: list[Stage]) -> str:
    for stage in sorted(stages, key=lambda s: s.seq):
        if stage.status != "passed":
            return f"{stage.name}（{StageStatus.label_of(stage.status)}）"
    return "各阶段均已通过" if stages else ""


def campaign_rows(session: Session, principal: Principal, filters: LedgerFilters) -> Rows:
    """As ``GET /api/v1/campaigns`` (all pages): scope, township, year and definition filters, by id."""
    stmt = _filtered(select(Campaign, OrgUnit).join(OrgUnit, col(Campaign.township_id) == OrgUnit.id), principal,
                     filters, township_id=Campaign.township_id, township_code=OrgUnit.code)
    found = session.exec(stmt.order_by(col(Campaign.id))).all()
    stages: dict[int, list[Stage]] = {}
    ids = [c.id for c, _ in found]
    for chunk in range(0, len(ids), 500):
        for stage in session.exec(select(Stage).where(col(Stage.campaign_id).in_(ids[chunk:chunk + 500]))):
            stages.setdefault(stage.campaign_id, []).append(stage)
    return [{
        "id": c.id, "definition": c.definition_key, "definition_name": _definition_name(c.definition_key),
        "definition_version": c.definition_version, "township": t.code, "township_name": t.name, "year": c.year,
        "status": CampaignStatus.label_of(c.status), "current_stage": _current_stage(stages.get(c.id or 0, [])),
        "launched_at": c.launched_at,
    } for c, t in found]


register(Ledger(
    name="campaigns", title="督办任务",
    description="每个乡镇每年一项督办任务：类型、年度、状态、当前阶段和发起时间。",
    columns=(
        Column("编号", "id", "int"), Column("督办类型", "definition_name"), Column("乡镇编码", "township"),
        Column("乡镇", "township_name"), Column("年度", "year", "int"), Column("状态", "status"),
        Column("当前阶段", "current_stage"), Column("发起时间", "launched_at", "datetime"),
        Column("定义版本", "definition_version", "int"),
    ),
    rows=campaign_rows, filters=frozenset({"township", "year", "definition"}),
))


# ---- obligations with their status (截止事项) ---------------------------------------------------------------


def obligation_rows(session: Session, principal: Principal, filters: LedgerFilters) -> Rows:
    """Every deadline of the campaigns ``GET /api/v1/campaigns`` lists (same filters), in the order
    ``GET /api/v1/campaigns/{id}`` lists them; also by campaign id and obligation status."""
    township, subject = aliased(OrgUnit), aliased(OrgUnit)
    stmt = (select(Obligation, Campaign, township, subject, Stage)  # type: ignore[call-overload]
            .join(Campaign, col(Obligation.campaign_id) == Campaign.id)
            .join(township, col(Campaign.township_id) == township.id)
            .join(subject, col(Obligation.subject_id) == subject.id)
            .outerjoin(Stage, col(Obligation.stage_id) == Stage.id))
    stmt = _filtered(stmt, principal, filters, township_id=Campaign.township_id, township_code=township.code,
                     status=Obligation.status)
    stmt = stmt.order_by(col(Campaign.id), col(Obligation.due_on), col(Obligation.key))
    found = session.exec(stmt).all()
    overrides = _overrides_by_obligation(session, [o.id for o, *_ in found])
    return [{
        "id": o.id, "campaign_id": c.id, "township": t.code, "township_name": t.name,
        "definition_name": _definition_name(c.definition_key), "year": c.year, "stage": s.name if s else "",
        "subject": u.code, "subject_name": u.name, "title": o.title, "period": o.period,
        "period_label": period_label(o.period), "opens_on": o.opens_on,
        "nominal_due_on": o.nominal_due_on, "due_on": o.due_on, "status": ObligationStatus.label_of(o.status),
        "met_on": o.met_on, "on_time": ON_TIME.get(o.status, ""),
        "escalation": _ladder_name(c.definition_key, level=o.escalation_level),
        "override": overrides.get(o.id or 0, ""),
    } for o, c, t, u, s in found]


def _overrides_by_obligation(session: Session, ids: list[int | None]) -> dict[int, str]:
    """Per obligation, the overrides its material was approved with: the checks passed over and the reason."""
    out: dict[int, list[str]] = {}
    wanted = [i for i in ids if i]
    for chunk in range(0, len(wanted), 500):
        rows = session.exec(select(GateOverride, Submission.obligation_id)
                            .join(Submission, col(GateOverride.submission_id) == Submission.id)
                            .where(col(Submission.obligation_id).in_(wanted[chunk:chunk + 500]))
                            .order_by(col(GateOverride.id)))
        for row, obligation_id in rows:
            checks = "、".join(c.get("name", c.get("key", "")) for c in row.checks)
            out.setdefault(obligation_id or 0, []).append(f"{checks}不符合，{row.level_name}例外批准：{row.reason}")
    return {k: "；".join(v) for k, v in out.items()}


register(Ledger(
    name="obligations", title="截止事项",
    description="每项报送义务：对象、周期、开始日、截止日（遇节假日按工作日调整）、状态、完成日期、是否按时和督办级别。",
    columns=(
        Column("编号", "id", "int"), Column("任务编号", "campaign_id", "int"), Column("乡镇", "township_name"),
        Column("督办类型", "definition_name"), Column("年度", "year", "int"), Column("阶段", "stage"),
        Column("对象", "subject_name"), Column("事项", "title"), Column("周期", "period_label"),
        Column("开始日", "opens_on", "date"), Column("规定截止日", "nominal_due_on", "date"),
        Column("截止日", "due_on", "date"), Column("状态", "status"), Column("完成日期", "met_on", "date"),
        Column("是否按时", "on_time"), Column("督办级别", "escalation"), Column("例外批准（审查项不符合）", "override"),
    ),
    rows=obligation_rows, filters=frozenset({"township", "year", "definition", "campaign", "status"}),
))


# ---- rectification plans per village (一村一策整改台账) -------------------------------------------------------

PLAN_FORM = "village_plan"
# The 一村一策 fields of weak_village_rectification.yaml, with the form's labels (checked by a test).
PLAN_COLUMNS = (
    Column("存在问题", "problems"), Column("整改措施", "measures"), Column("整改责任人", "responsible_person"),
    Column("整改时限", "time_limit", "date"), Column("挂钩帮扶单位", "helping_units"),
    Column("县级领导联系人", "county_leader_contact"), Column("乡（镇）党委会研究日期", "committee_meeting_date", "date"),
    Column("村民代表会议审议情况", "villager_review"),
)


def rectification_rows(session: Session, principal: Principal, filters: LedgerFilters) -> Rows:
    """As ``GET /api/v1/rectifications`` (scope, campaign filter, by id), each village joined with its
    一村一策 plan."""
    township, village = aliased(OrgUnit), aliased(OrgUnit)
    stmt = (select(VillageRectification, Campaign, township, village)
            .join(Campaign, col(VillageRectification.campaign_id) == Campaign.id)
            .join(township, col(Campaign.township_id) == township.id)
            .join(village, col(VillageRectification.village_id) == village.id))
    stmt = _filtered(stmt, principal, filters, township_id=Campaign.township_id,
                     campaign_id=VillageRectification.campaign_id)
    found = session.exec(stmt.order_by(col(VillageRectification.id))).all()
    plans: dict[tuple[int, int], Submission] = {}
    campaign_ids = sorted({r.campaign_id for r, *_ in found})
    for chunk in range(0, len(campaign_ids), 500):
        for sub in session.exec(select(Submission).where(col(Submission.campaign_id).in_(campaign_ids[chunk:chunk + 500]),
                                                         Submission.form_key == PLAN_FORM).order_by(col(Submission.id))):
            if sub.status != "withdrawn" or (sub.campaign_id, sub.subject_id) not in plans:
                plans[(sub.campaign_id, sub.subject_id)] = sub
    out = []
    for r, c, t, v in found:
        plan = plans.get((r.campaign_id, r.village_id))
        data = plan.data if plan else {}
        out.append({
            "id": r.id, "campaign_id": c.id, "township": t.code, "township_name": t.name, "village": v.code,
            "village_name": v.name, "status": RectificationStatus.label_of(r.status),
            "plan_status": SubmissionStatus.label_of(plan.status) if plan else "未填报",
            **{column.key: data.get(column.key) for column in PLAN_COLUMNS},
            "accepted_on": r.accepted_on, "consolidation_ends_on": r.consolidation_ends_on, "closed_on": r.closed_on,
            "failed_acceptances": r.failed_acceptances, "relapses": r.relapses, "listed_on": r.listed_on,
            "removed_on": r.removed_on, "note": r.note,
        })
    return out


register(Ledger(
    name="rectifications", title="一村一策整改台账",
    description="每个整顿村一行：整改状态、“一村一策”方案内容（问题、措施、责任人、时限、帮扶单位）、验收和销号日期、"
                "列入和移出名单日期。",
    columns=(
        Column("编号", "id", "int"), Column("任务编号", "campaign_id", "int"), Column("乡镇", "township_name"),
        Column("村编码", "village"), Column("村", "village_name"), Column("状态", "status"),
        Column("方案状态", "plan_status"), *PLAN_COLUMNS,
        Column("验收日期", "accepted_on", "date"), Column("巩固期满", "consolidation_ends_on", "date"),
        Column("销号日期", "closed_on", "date"), Column("验收未通过次数", "failed_acceptances", "int"),
        Column("反复回潮次数", "relapses", "int"), Column("列入名单日期", "listed_on", "date"),
        Column("移出名单日期", "removed_on", "date"), Column("备注", "note"),
    ),
    rows=rectification_rows, filters=frozenset({"campaign"}),
))


# ---- escalations (督办记录) ------------------------------------------------------------------------------


def escalation_rows(session: Session, principal: Principal, filters: LedgerFilters) -> Rows:
    """Every step up an escalation ladder the caller may see, by id; by township, year, campaign, status."""
    stmt = (select(Escalation, Campaign, OrgUnit, Obligation, Submission)  # type: ignore[call-overload]
            .join(Campaign, col(Escalation.campaign_id) == Campaign.id)
            .join(OrgUnit, col(Escalation.township_id) == OrgUnit.id)
            .outerjoin(Obligation, col(Escalation.obligation_id) == Obligation.id)
            .outerjoin(Submission, col(Escalation.submission_id) == Submission.id))
    stmt = _filtered(stmt, principal, filters, township_id=Escalation.township_id, township_code=OrgUnit.code,
                     campaign_id=Escalation.campaign_id, status=Escalation.status)
    return [{
        "id": e.id, "campaign_id": c.id, "township": t.code, "township_name": t.name,
        "definition_name": _definition_name(c.definition_key), "year": c.year,
        "item": (o.title if o else None) or (s.title if s else ""), "period": o.period if o else "", "period_label": period_label(o.period if o else None),
        "trigger": TRIGGER_LABELS.get(e.trigger, e.trigger), "level": e.level,
        "level_name": _ladder_name(c.definition_key, key=e.level_key), "status": EscalationStatus.label_of(e.status),
        "reason": e.reason, "created_at": e.created_at,
    } for e, c, t, o, s in session.exec(stmt.order_by(col(Escalation.id)))]


register(Ledger(
    name="escalations", title="督办记录",
    description="逾期未报、多次退回等触发的催办、督办、约谈、通报、问责，每升一级一行。",
    columns=(
        Column("编号", "id", "int"), Column("任务编号", "campaign_id", "int"), Column("乡镇", "township_name"),
        Column("督办类型", "definition_name"), Column("年度", "year", "int"), Column("事项", "item"),
        Column("周期", "period_label"), Column("触发原因", "trigger"), Column("级别", "level", "int"),
        Column("级别名称", "level_name"), Column("状态", "status"), Column("原因", "reason", width=60),
        Column("时间", "created_at", "datetime"),
    ),
    rows=escalation_rows, filters=frozenset({"township", "year", "campaign", "status"}),
))


def case_rows(session: Session, principal: Principal, filters: LedgerFilters) -> Rows:
    """Accountability cases (问责) the caller may see, by id; by township, year, campaign, status."""
    stmt = (select(AccountabilityCase, Campaign, OrgUnit)  # type: ignore[call-overload]
            .join(Campaign, col(AccountabilityCase.campaign_id) == Campaign.id)
            .join(OrgUnit, col(AccountabilityCase.township_id) == OrgUnit.id))
    stmt = _filtered(stmt, principal, filters, township_id=AccountabilityCase.township_id, township_code=OrgUnit.code,
                     campaign_id=AccountabilityCase.campaign_id, status=AccountabilityCase.status)
    return [{
        "id": k.id, "campaign_id": c.id, "township_name": t.name, "definition_name": _definition_name(c.definition_key),
        "year": c.year, "trigger": TRIGGER_LABELS.get(k.trigger, k.trigger),
        "persons": "、".join(f"{p.get('name')}（{p.get('role')}）" for p in k.target_persons), "reason": k.reason,
        "status": CaseStatus.label_of(k.status),
        "decision": case_rules.DECISIONS.get(k.decision or "", "") + (f"（{k.suspension_days}天）" if k.suspension_days else ""),
        "decision_note": k.decision_note or "", "rating": case_rules.RATING_EFFECT_LABELS.get(k.rating_effect or "", ""),
        "created_at": k.created_at, "decided_at": k.decided_at,
    } for k, c, t in session.exec(stmt.order_by(col(AccountabilityCase.id)))]


register(Ledger(
    name="cases", title="问责案件",
    description="逾期、零上报、未经核实等经逐级督办或县委组织部核实后立案的问责案件及处理决定。",
    columns=(
        Column("编号", "id", "int"), Column("任务编号", "campaign_id", "int"), Column("乡镇", "township_name"),
        Column("督办类型", "definition_name"), Column("年度", "year", "int"), Column("问责原因", "trigger"),
        Column("问责对象", "persons", width=40), Column("事由", "reason", width=60), Column("状态", "status"),
        Column("处理决定", "decision"), Column("决定理由", "decision_note", width=40), Column("考核影响", "rating"),
        Column("立案时间", "created_at", "datetime"), Column("决定时间", "decided_at", "datetime"),
    ),
    rows=case_rows, filters=frozenset({"township", "year", "campaign", "status"}),
))


