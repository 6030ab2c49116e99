"""The stationing programme (003_0d1c8490fe7db56e.txt): three-year programmes, each year's stationing plan
(选派安排表) drafted by the 基层办 and reviewed by the county, and the cadres' arrival and early departure.

Each transition checks, changes, audits and mails (through the outbox) in the caller's transaction; the caller
commits once. What a draft lacks is computed, never stored (:func:`plan_problems`): the team sizes and the
unit shares of ``domain.stationing``, and the villages carried over from a failed acceptance (003 §四(五):
"继续安排领导干部挂点和派出干部驻村，直至验收合格")."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.clock import china_date
from domain.calendar import DuePolicy
from domain.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from domain.programme import Verdict, batch_of, still_failing
from domain.stationing import StationingRules, Team, VillageFacts, team_problems, unit_share_problem
from domain.vocabulary import StationingPlanStatus
from models import (
    Acceptance,
    AuditEvent,
    Cadre,
    Campaign,
    OrgUnit,
    PlanStatus,
    Programme,
    StationingPlan,
    StationingTeam,
    TeamMember,
    User,
)
from models.stationing_io import ArrivalIn, DepartureIn, PlanIn, TeamIn
from notifications.outbox import absolute_url, enqueue_mail
from tasks import village_list
from tasks.accounts import Principal
from tasks.audit import append_event
from tasks.calendar import load_work_calendar
from tasks.locking import Audit, require_version, save_versioned
from tasks.registry import get_definition
from tasks.scope import visible

DEFINITION = "cadres_in_villages"
WEAK_LIST = "weak_village_rectification"
WHAT = "选派安排表"
EDITABLE = (PlanStatus.DRAFT, PlanStatus.RETURNED)


def rules() -> StationingRules:
    """The ``stationing:`` settings of the cadres_in_villages definition (003's numbers by default)."""
    return get_definition(DEFINITION).stationing or StationingRules()


def _audit(session: Session, principal: Principal | None, action: str, subject: str, subject_id: int,
           after: dict[str, Any] | None, now: dt.datetime, before: dict[str, Any] | None = None,
           township_id: int | None = None) -> None:
    user = principal.user if principal else None
    append_event(session, actor_id=user.id if user else None, actor=user.username if user else "system",
                 action=action, subject_type=subject, subject_id=subject_id, township_id=township_id,
                 before=before, after=after, now=now)


# ---- programmes --------------------------------------------------------------------------------------------


def create_programme(session: Session, principal: Principal, now: dt.datetime, *, name: str,
                     start_year: int) -> Programme:
    """The administrator opens a programme of ``programme_years`` campaign years (003 前言: 用3年时间); two
    programmes may not overlap."""
    principal.require_role("admin")
    years = rules().programme_years
    for other in session.exec(select(Programme)):
        if other.start_year < start_year + years and start_year < other.start_year + other.years:
            raise Conflict(f"{other.start_year}年开始的“{other.name}”已覆盖{other.start_year}—"
                           f"{other.start_year + other.years - 1}年，新的三年周期不能与之重叠",
                           errors=[{"field": "start_year", "message": "overlaps"}])
    programme = Programme(name=name, start_year=start_year, years=years, created_by=principal.user.id,
                          created_at=now)
    session.add(programme)
    session.flush()
    _audit(session, principal, "programme.create", "programme", programme.id or 0,
           {"name": name, "start_year": start_year, "years": years}, now)
    return programme


def programme_for_year(session: Session, year: int, *, programme_id: int | None = None,
                       start_year: int | None = None) -> Programme:
    """The programme a year's plan belongs to: the one named (by id or start year), else the one whose years
    hold ``year``, else the latest one begun before it (a year after the programme: carried villages)."""
    stmt = select(Programme)
    if programme_id is not None:
        stmt = stmt.where(Programme.id == programme_id)
    elif start_year is not None:
        stmt = stmt.where(Programme.start_year == start_year)
    else:
        stmt = stmt.where(Programme.start_year <= year)
    found = session.exec(stmt.order_by(col(Programme.start_year).desc())).first()
    if found is None or found.start_year > year:
        raise ValidationFailed(f"{year}年没有所属的三年驻村周期，请先创建周期（POST /api/v1/programmes）或指明周期",
                               errors=[{"field": "programme", "message": "no programme for this year"}])
    return found


# ---- what a plan depends on --------------------------------------------------------------------------------


def weak_village_ids(session: Session, year: int) -> set[int]:
    """Villages on an approved weak list (后进/软弱涣散村, tasks.village_list) of this or the previous year and
    not yet accepted out of it: they get a team of three (003 §三(二): 班子较弱、问题较多的村)."""
    campaigns = session.exec(select(Campaign.id).where(
        Campaign.definition_key == WEAK_LIST, col(Campaign.year).in_((year - 1, year))))
    return {record.village_id for cid in campaigns for record, _ in village_list.listed(session, cid or 0)
            if record.status in village_list.STILL_WEAK}


def carried_villages(session: Session, year: int | None = None) -> dict[int, str]:
    """Villages that failed the county's acceptance and have not passed since (village id → reason): they keep
    their leader and team in ``year`` (003 §四(五): 继续安排领导干部挂点和派出干部驻村，直至验收合格). Without a
    year, as of every verdict recorded."""
    verdicts: dict[int, list[Verdict]] = {}
    stmt = select(Acceptance, OrgUnit).join(OrgUnit, col(Acceptance.subject_id) == OrgUnit.id).where(
        OrgUnit.kind == "village")
    for row, _ in session.exec(stmt if year is None else stmt.where(Acceptance.year < year)):
        verdicts.setdefault(row.subject_id, []).append(Verdict(row.year, row.level, row.passed, row.note))
    carried: dict[int, str] = {}
    for village_id, found in verdicts.items():
        failed = still_failing(found, year if year is not None else max(v.year for v in found) + 1)
        if failed is not None:
            carried[village_id] = f"{failed.year}年县级验收未通过（{failed.note}）"
    return carried


def arrival_due(session: Session, plan: StationingPlan) -> dt.date:
    """The day the plan's cadres must be on site: 8 January for the first batch (003 §三(二)), a setting for
    later ones, moved back to a working day when it falls on a rest day (``policy: previous_workday``)."""
    nominal = rules().arrival_due(plan.year, plan.batch == 1)
    return load_work_calendar(session).adjust(nominal, DuePolicy.PREVIOUS_WORKDAY)


def load_plan(session: Session, year: int) -> StationingPlan:
    plan = session.exec(select(StationingPlan).where(StationingPlan.year == year)).first()
    if plan is None:
        raise NotFound(f"{year}年还没有驻村干部选派安排表")
    return plan


def in_programme_years(programme: Programme, year: int) -> bool:
    return year < programme.start_year + programme.years


# ---- problems of a plan --------------------------------------------------------------------------------------


def _facts(session: Session, year: int, carried: dict[int, str]) -> dict[str, tuple[int, VillageFacts]]:
    weak = weak_village_ids(session, year) | set(carried)
    return {v.code: (v.id or 0, VillageFacts(v.code, v.name, v.collective_income, (v.id or 0) in weak))
            for v in session.exec(select(OrgUnit).where(OrgUnit.kind == "village"))}


def stored_teams(session: Session, plan: StationingPlan) -> list[tuple[StationingTeam, OrgUnit, list[Cadre]]]:
    """The plan's teams by village code, each with its village and its cadres by code."""
    teams = session.exec(select(StationingTeam, OrgUnit).join(OrgUnit, col(StationingTeam.village_id) == OrgUnit.id)
                         .where(StationingTeam.plan_id == plan.id).order_by(col(OrgUnit.code)))
    out = []
    for team, village in teams:
        cadres = list(session.exec(select(Cadre).join(TeamMember, col(TeamMember.cadre_id) == Cadre.id)
                                   .where(TeamMember.team_id == team.id).order_by(col(Cadre.code))))
        out.append((team, village, cadres))
    return out


def _leader_code(session: Session, team: StationingTeam) -> str | None:
    leader = session.get(Cadre, team.leader_cadre_id) if team.leader_cadre_id else None
    return leader.code if leader else None


def _share_problems(session: Session, sent: dict[int, int], rules_: StationingRules) -> list[dict[str, str]]:
    """003 §三(二): county units send about 20% of their establishment; province and city units answer to their
    own Party committee, so only county units are checked."""
    problems = []
    units = session.exec(select(OrgUnit).where(OrgUnit.kind == "unit", OrgUnit.unit_level == "county")
                         .order_by(col(OrgUnit.code)))
    for unit in units:
        if unit.establishment_size:
            message = unit_share_problem(unit.name, unit.establishment_size, sent.get(unit.id or 0, 0), rules_)
            if message:
                problems.append({"field": f"units.{unit.code}", "message": message})
    return problems


def plan_problems(session: Session, plan: StationingPlan) -> list[dict[str, str]]:
    """What keeps the plan from going to review, each ``{"field", "message"}`` in Chinese (fields name the teams
    in the order the plan lists them, by village code): team sizes, leaders, cadres in two teams, villages
    without a team (every village during the programme, the carried ones after it), and county units' shares
    (during the programme's years)."""
    rules_ = rules()
    carried = carried_villages(session, plan.year)
    facts = _facts(session, plan.year, carried)
    stored = stored_teams(session, plan)
    programme = session.get(Programme, plan.programme_id)
    running = programme is not None and in_programme_years(programme, plan.year)
    required = {code: f for code, (vid, f) in facts.items() if running or vid in carried}
    villages = required | {v.code: facts[v.code][1] for _, v, _ in stored}
    cadre_ids = {c.code: c for _, _, cadres in stored for c in cadres}
    teams = [Team(v.code, tuple(c.code for c in cadres), _leader_code(session, t)) for t, v, cadres in stored]
    names = {code: c.name for code, c in cadre_ids.items()}
    problems = team_problems(teams, villages, names, rules_)
    for village_id, reason in carried.items():
        code = next((c for c, (vid, _) in facts.items() if vid == village_id), None)
        if code is None or any(t.village == code for t in teams):
            continue
        generic = f"{facts[code][1].name}（{code}）还没有驻村工作组"
        problems = [p for p in problems if p["message"] != generic]
        problems.append({"field": "teams", "message": f"{facts[code][1].name}（{code}）{reason}，须继续派驻工作组"
                                                      f"直至验收合格（003 §四(五)），请把该村列入{plan.year}年选派安排表"})
    sent: dict[int, int] = {}
    for cadre in cadre_ids.values():
        sent[cadre.unit_id] = sent.get(cadre.unit_id, 0) + 1
    # After the programme's years only the carried villages are staffed: the units' yearly share no longer applies.
    return problems + (_share_problems(session, sent, rules_) if running else [])


# ---- drafting ---------------------------------------------------------------------------------------------


def _codes(session: Session, table: Any, codes: set[str]) -> dict[str, Any]:
    if not codes:
        return {}
    return {row.code: row for row in session.exec(select(table).where(col(table.code).in_(sorted(codes))))}


def _team_errors(i: int, team: TeamIn, units: dict[str, OrgUnit], cadres: dict[str, Cadre],
                 seen: dict[str, int]) -> list[dict[str, str]]:
    errors = []
    village = units.get(team.village)
    if village is None or village.kind != "village":
        errors.append({"field": f"teams[{i}].village", "message": f"村编码 {team.village} 不存在"})
    elif team.village in seen:
        errors.append({"field": f"teams[{i}].village",
                       "message": f"{village.name}与第{seen[team.village] + 1}个工作组重复，每村一个工作组"})
    seen.setdefault(team.village, i)
    unit = units.get(team.unit)
    if unit is None or unit.kind not in ("unit", "township"):
        errors.append({"field": f"teams[{i}].unit", "message": f"派出单位编码 {team.unit} 不存在（应为派出单位或乡镇）"})
    for code in team.cadres:
        if code not in cadres:
            errors.append({"field": f"teams[{i}].cadres", "message": f"驻村干部编码 {code} 不存在"})
    if len(set(team.cadres)) != len(team.cadres):
        errors.append({"field": f"teams[{i}].cadres", "message": "同一工作组中驻村干部重复"})
    if team.leader is not None and team.leader not in cadres:
        errors.append({"field": f"teams[{i}].leader", "message": f"工作组组长编码 {team.leader} 不存在"})
    return errors


def resolve(session: Session, body: PlanIn) -> tuple[dict[str, OrgUnit], dict[str, Cadre]]:
    """The org units and cadres the body names; 422 naming every unknown code (nothing is written)."""
    units = _codes(session, OrgUnit, {t.village for t in body.teams} | {t.unit for t in body.teams})
    cadres = _codes(session, Cadre, {c for t in body.teams for c in t.cadres} |
                    {t.leader for t in body.teams if t.leader})
    seen: dict[str, int] = {}
    errors = [e for i, team in enumerate(body.teams) for e in _team_errors(i, team, units, cadres, seen)]
    if errors:
        raise ValidationFailed(f"选派安排表有{len(errors)}处填写有误，未保存：" + "；".join(e["message"] for e in errors),
                               errors=errors)
    return units, cadres


def write_teams(session: Session, plan: StationingPlan, body: PlanIn, units: dict[str, OrgUnit],
                 cadres: dict[str, Cadre]) -> None:
    old = [t.id for t in session.exec(select(StationingTeam).where(StationingTeam.plan_id == plan.id))]
    if old:
        session.execute(delete(TeamMember).where(col(TeamMember.team_id).in_(old)))
        session.execute(delete(StationingTeam).where(col(StationingTeam.id).in_(old)))
    for team in body.teams:
        leader = cadres[team.leader] if team.leader else None
        row = StationingTeam(plan_id=plan.id or 0, village_id=units[team.village].id or 0,
                             unit_id=units[team.unit].id or 0, leader_cadre_id=leader.id if leader else None,
                             leader_post=team.leader_post or ("村党支部副书记" if leader else None))
        session.add(row)
        session.flush()
        for code in team.cadres:
            session.add(TeamMember(team_id=row.id or 0, cadre_id=cadres[code].id or 0))
    session.flush()


def save_plan(session: Session, principal: Principal, now: dt.datetime, year: int, body: PlanIn) -> StationingPlan:
    """The 基层办 (administrators) saves the year's plan as a draft: every team replaced by the body's. A plan
    in review or approved is not edited (409); an existing plan needs its current ``version``."""
    principal.require_role("admin")
    plan = session.exec(select(StationingPlan).where(StationingPlan.year == year)).first()
    if plan is not None and plan.status not in EDITABLE:
        raise InvalidTransition(f"{year}年选派安排表{'已批准，只能登记到位和离岗' if plan.status == PlanStatus.APPROVED else '正在审核中'}，不能修改")
    expected = require_version(plan, body.version, what=WHAT) if plan is not None else 0
    programme = programme_for_year(session, year, programme_id=body.programme, start_year=body.start_year)
    units, cadres = resolve(session, body)
    batch = batch_of(programme.start_year, year)
    after = {"programme_id": programme.id, "batch": batch, "note": body.note, "teams": len(body.teams)}
    if plan is None:
        plan = StationingPlan(programme_id=programme.id or 0, year=year, batch=batch, note=body.note,
                              created_by=principal.user.id, created_at=now, updated_at=now)
        session.add(plan)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            raise Conflict(f"{year}年选派安排表已由他人创建，请刷新后重试") from None
        _audit(session, principal, "stationing_plan.create", "stationing_plan", plan.id or 0, after, now)
    else:
        save_versioned(session, plan, expected, {"programme_id": programme.id, "batch": batch, "note": body.note,
                                                 "status": PlanStatus.DRAFT, "updated_at": now}, what=WHAT,
                       audit=Audit(principal, "stationing_plan.save", "stationing_plan", None, None, after, now))
    write_teams(session, plan, body, units, cadres)
    return plan


# ---- review ------------------------------------------------------------------------------------------------


def _county_deciders(session: Session) -> list[User]:
    users = session.exec(select(User).where(User.active == True, col(User.role).in_(("admin", "reviewer"))))  # noqa: E712
    return [u for u in users if u.role == "admin" or u.level == "county"]


def _mail_context(session: Session, plan: StationingPlan, **extra: Any) -> dict[str, Any]:
    county = session.exec(select(OrgUnit).where(OrgUnit.kind == "county")).first()
    returns = session.exec(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.subject_type == "stationing_plan", AuditEvent.subject_id == plan.id,
        AuditEvent.action == "stationing_plan.return")).one()
    return {"title": f"{plan.year}年驻村干部选派安排表", "township": county.name if county else "全县",
            "subject_unit": "全县各行政村", "round": returns + 1, "link": absolute_url(f"/stationing/{plan.year}"),
            "level_name": "县委组织部审核", "due_date": None} | extra


def _mail(session: Session, users: list[User], template: str, key: str, context: dict[str, Any],
          now: dt.datetime) -> None:
    for user in {u.id: u for u in users}.values():
        enqueue_mail(session, key=f"{key}:{user.id}", to=user, template=template, context=context, now=now)


def submit_plan(session: Session, principal: Principal, now: dt.datetime, year: int,
                version: int | None) -> StationingPlan:
    """The 基层办 submits the draft to the county's review; refused (422) with every problem listed, one per line,
    while any remains. The county's reviewers are mailed."""
    principal.require_role("admin")
    plan = load_plan(session, year)
    if plan.status not in EDITABLE:
        raise InvalidTransition(f"{year}年选派安排表当前状态为“{status_text(plan)}”，不能提交")
    expected = require_version(plan, version, what=WHAT)
    problems = plan_problems(session, plan)
    if problems:
        raise ValidationFailed(f"{year}年选派安排表还有{len(problems)}个问题，请修改后再提交：\n"
                               + "\n".join(p["message"] for p in problems), errors=problems)
    save_versioned(session, plan, expected, {"status": PlanStatus.SUBMITTED, "submitted_by": principal.user.id,
                                             "submitted_at": now, "updated_at": now}, what=WHAT,
                   audit=Audit(principal, "stationing_plan.submit", "stationing_plan", None,
                               {"status": plan.status}, {"status": PlanStatus.SUBMITTED}, now))
    reviewers = [u for u in _county_deciders(session) if u.id != principal.user.id]
    _mail(session, reviewers, "submission_submitted", f"stationing_plan:{plan.id}:submitted:{plan.version}",
          _mail_context(session, plan), now)
    return plan


def status_text(plan: StationingPlan) -> str:
    return StationingPlanStatus.label_of(plan.status)


def decide_plan(session: Session, principal: Principal, now: dt.datetime, year: int, *, decision: str,
                note: str | None, version: int | None) -> StationingPlan:
    """A county reviewer or administrator who did not submit the plan approves it or returns it with a note.
    The submitter and the 基层办 (administrators) are mailed."""
    if not (principal.user.role == "admin" or (principal.user.role == "reviewer" and principal.user.level == "county")):
        raise PermissionDenied("只有县委组织部的审核人或管理员可以审批选派安排表")
    plan = load_plan(session, year)
    if plan.status != PlanStatus.SUBMITTED:
        raise InvalidTransition(f"{year}年选派安排表当前状态为“{status_text(plan)}”，不在待审核状态")
    if plan.submitted_by == principal.user.id:
        raise PermissionDenied("不能审批自己提交的选派安排表，请由县委组织部其他审核人审批")
    expected = require_version(plan, version, what=WHAT)
    if decision == "return" and not (note or "").strip():
        raise ValidationFailed("退回选派安排表须填写审核意见，说明需要修改什么",
                               errors=[{"field": "note", "message": "退回时必填"}])
    status = PlanStatus.APPROVED if decision == "approve" else PlanStatus.RETURNED
    save_versioned(session, plan, expected, {"status": status, "decided_by": principal.user.id, "decided_at": now,
                                             "decision_note": note, "updated_at": now}, what=WHAT,
                   audit=Audit(principal, f"stationing_plan.{decision}", "stationing_plan", None,
                               {"status": PlanStatus.SUBMITTED}, {"status": status, "note": note}, now))
    submitter = session.get(User, plan.submitted_by) if plan.submitted_by else None
    users = ([submitter] if submitter else []) + [u for u in _county_deciders(session) if u.role == "admin"]
    template = "submission_approved" if status == PlanStatus.APPROVED else "submission_returned"
    extra = {"decided_on": china_date(now), "comment": note}
    if status == PlanStatus.APPROVED:
        extra["next_level_name"] = None
    _mail(session, [u for u in users if u.id != principal.user.id], template,
          f"stationing_plan:{plan.id}:{decision}:{plan.version}", _mail_context(session, plan, **extra), now)
    return plan


# ---- arrivals and departures ---------------------------------------------------------------------------------


def _member(session: Session, principal: Principal, plan: StationingPlan,
            cadre: str) -> tuple[TeamMember, OrgUnit]:
    """The plan's member ``cadre`` and the team's village, if the caller may act for the village's township."""
    row = session.exec(
        select(TeamMember, OrgUnit)
        .join(StationingTeam, col(TeamMember.team_id) == StationingTeam.id)
        .join(OrgUnit, col(StationingTeam.village_id) == OrgUnit.id)
        .join(Cadre, col(TeamMember.cadre_id) == Cadre.id)
        .where(StationingTeam.plan_id == plan.id, Cadre.code == cadre)).first()
    missing = f"{plan.year}年选派安排表中没有编码为 {cadre} 的驻村干部"
    visible(principal, row, row[1].parent_id if row else None, missing)
    assert row is not None
    return row[0], row[1]


def _approved_member(session: Session, principal: Principal, year: int,
                     cadre: str) -> tuple[StationingPlan, TeamMember, OrgUnit]:
    principal.require_role("admin", "submitter")
    plan = load_plan(session, year)
    member, village = _member(session, principal, plan, cadre)
    if plan.status != PlanStatus.APPROVED:
        raise InvalidTransition(f"{year}年选派安排表批准后才能登记到位和离岗")
    return plan, member, village


def _day_problem(field: str, day: dt.date, year: int, today: dt.date, what: str) -> None:
    if day > today:
        raise ValidationFailed(f"{what}不能晚于今天（{today:%Y-%m-%d}）", errors=[{"field": field, "message": "future"}])
    if day < dt.date(year, 1, 1):
        raise ValidationFailed(f"{what}不能早于{year}年1月1日", errors=[{"field": field, "message": "before the year"}])


def record_arrival(session: Session, principal: Principal, now: dt.datetime, year: int,
                   body: ArrivalIn) -> TeamMember:
    """The township's liaison (or an administrator) records the day a cadre arrived (到位); a day after the due
    day stays recorded and shows as 迟到."""
    plan, member, village = _approved_member(session, principal, year, body.cadre)
    _day_problem("arrived_on", body.arrived_on, year, china_date(now), "到位日期")
    if member.left_on is not None and body.arrived_on > member.left_on:
        raise ValidationFailed("到位日期不能晚于已登记的离岗日期", errors=[{"field": "arrived_on", "message": "after left_on"}])
    before = {"arrived_on": member.arrived_on}
    member.arrived_on, member.arrival_recorded_by = body.arrived_on, principal.user.id
    session.add(member)
    _audit(session, principal, "stationing_member.arrive", "team_member", member.id or 0,
           {"cadre": body.cadre, "arrived_on": body.arrived_on, "due_on": arrival_due(session, plan)}, now,
           before=before, township_id=village.parent_id)
    session.flush()
    return member


def record_departure(session: Session, principal: Principal, now: dt.datetime, year: int,
                     body: DepartureIn) -> TeamMember:
    """A cadre who left the village early (the unit did not keep its cadre, 003 §四(五)): the day and why."""
    _, member, village = _approved_member(session, principal, year, body.cadre)
    _day_problem("left_on", body.left_on, year, china_date(now), "离岗日期")
    if member.arrived_on is None or body.left_on < member.arrived_on:
        raise ValidationFailed("离岗日期须在到位日期之后；尚未登记到位的干部请先登记到位",
                               errors=[{"field": "left_on", "message": "before arrival"}])
    before = {"left_on": member.left_on, "left_reason": member.left_reason}
    member.left_on, member.left_reason = body.left_on, body.reason
    session.add(member)
    _audit(session, principal, "stationing_member.leave", "team_member", member.id or 0,
           {"cadre": body.cadre, "left_on": body.left_on, "reason": body.reason}, now, before=before,
           township_id=village.parent_id)
    session.flush()
    return member
