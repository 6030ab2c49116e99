"""The stationing programme as the caller may see it (003_0d1c8490fe7db56e.txt §三(二), §四(五)).

Programmes and the shape of each year's plan are county-wide; the teams are not: county roles see every team,
a township (and an observer of townships) sees its villages' teams only, with the problems of those teams.
The ledger 选派安排表 is :func:`plan_rows`, the rows ``GET /api/v1/stationing/plans/{year}/rows`` returns."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from typing import Any

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from domain import programme as rules
from domain.errors import NotFound
from domain.stationing import VillageFacts, required_team_size, unit_share_problem
from domain.vocabulary import ArrivalStatus, StationingPlanStatus
from models import Cadre, OrgUnit, PlanStatus, Programme, StationingPlan, StationingTeam, TeamMember, User
from tasks import stationing as service
from tasks.accounts import Principal
from tasks.reads import Page
from tasks.scope import scoped

TEAM_FIELD = re.compile(r"^teams\[(\d+)\]")


def _programme(session: Session, p: Programme, today: dt.date) -> dict[str, Any]:
    end = p.start_year + p.years - 1
    carried = len(service.carried_villages(session, today.year)) if today.year > end else 0
    status = rules.programme_status(p.start_year, p.years, today.year, carried)
    plans = {plan.year: plan for plan in session.exec(select(StationingPlan).where(
        StationingPlan.programme_id == p.id).order_by(col(StationingPlan.year)))}
    years = sorted(set(rules.programme_years(p.start_year, p.years)) | set(plans))
    return {
        "id": p.id, "name": p.name, "start_year": p.start_year, "years": p.years, "end_year": end,
        "status": status.value, "status_label": status.label,
        "plans": [{"year": y, "batch": rules.batch_of(p.start_year, y), "in_programme": y <= end,
                   "status": plans[y].status if y in plans else None,
                   "status_label": StationingPlanStatus.label_of(plans[y].status) if y in plans else "未编制"}
                  for y in years],
    }


def list_programmes(session: Session, principal: Principal, *, today: dt.date) -> Page[dict[str, Any]]:
    """Every programme, the latest first (county-wide: a programme names no township)."""
    rows = list(session.exec(select(Programme).order_by(col(Programme.start_year).desc())))
    return Page([_programme(session, p, today) for p in rows], len(rows), len(rows), 0)


def programme_detail(session: Session, principal: Principal, programme_id: int, *, today: dt.date) -> dict[str, Any]:
    """One programme: its years, each year's plan and status, and where the programme stands."""
    found = session.get(Programme, programme_id)
    if found is None:
        raise NotFound(f"没有编号为 {programme_id} 的驻村周期")
    return _programme(session, found, today)


def _members(session: Session, plan: StationingPlan) -> dict[int, list[tuple[TeamMember, Cadre]]]:
    """Every team's members with their cadres, by team id (one query for the whole plan), in cadre code order."""
    rows = session.exec(select(TeamMember, Cadre).join(Cadre, col(TeamMember.cadre_id) == Cadre.id)
                        .join(StationingTeam, col(TeamMember.team_id) == StationingTeam.id)
                        .where(StationingTeam.plan_id == plan.id).order_by(col(Cadre.code)))
    by_team: dict[int, list[tuple[TeamMember, Cadre]]] = defaultdict(list)
    for member, cadre in rows:
        by_team[member.team_id].append((member, cadre))
    return by_team


def _member(team: StationingTeam, member: TeamMember, cadre: Cadre, due: dt.date, today: dt.date) -> dict[str, Any]:
    state = rules.arrival(due, member.arrived_on, member.left_on, today)
    label = f"迟到{state.days_late}天" if state.status == ArrivalStatus.LATE else state.status.label
    return {"cadre": cadre.code, "name": cadre.name, "post": cadre.post, "phone": cadre.phone,
            "leader": cadre.id == team.leader_cadre_id, "arrived_on": member.arrived_on,
            "late": state.status == ArrivalStatus.LATE, "days_late": state.days_late,
            "arrival": state.status.value, "arrival_label": label,
            "left_on": member.left_on, "left_reason": member.left_reason}


def _teams(session: Session, principal: Principal, plan: StationingPlan, today: dt.date) -> list[dict[str, Any]]:
    town, unit = aliased(OrgUnit), aliased(OrgUnit)
    stmt = (select(StationingTeam, OrgUnit, town, unit)
            .join(OrgUnit, col(StationingTeam.village_id) == OrgUnit.id)
            .join(town, col(OrgUnit.parent_id) == town.id).join(unit, col(StationingTeam.unit_id) == unit.id)
            .where(StationingTeam.plan_id == plan.id).order_by(col(OrgUnit.code)))
    carried = service.carried_villages(session, plan.year)
    weak = service.weak_village_ids(session, plan.year) | set(carried)
    settings, due = service.rules(), service.arrival_due(session, plan)
    by_team = _members(session, plan)
    out = []
    for team, village, township, sender in session.exec(scoped(stmt, principal, OrgUnit.parent_id)):
        facts = VillageFacts(village.code, village.name, village.collective_income, (village.id or 0) in weak)
        members = [_member(team, member, cadre, due, today) for member, cadre in by_team.get(team.id or 0, [])]
        out.append({
            "village": village.code, "village_name": village.name, "township": township.code,
            "township_name": township.name, "collective_income": village.collective_income,
            "weak": facts.weak, "carried": carried.get(village.id or 0),
            "required_size": required_team_size(facts, settings), "unit": sender.code, "unit_name": sender.name,
            "leader": next((m["cadre"] for m in members if m["leader"]), None),
            "leader_name": next((m["name"] for m in members if m["leader"]), None),
            "leader_post": team.leader_post, "members": members,
        })
    return out


def _visible_problems(session: Session, principal: Principal, plan: StationingPlan,
                      teams: list[dict[str, Any]]) -> list[dict[str, str]]:
    if plan.status == PlanStatus.APPROVED:
        return []
    problems = service.plan_problems(session, plan)
    if principal.townships is None:
        return problems
    order = [v.code for _, v, _ in service.stored_teams(session, plan)]
    mine = {t["village"] for t in teams}
    return [p for p in problems if (m := TEAM_FIELD.match(p["field"])) and order[int(m.group(1))] in mine]


def _shares(session: Session, plan: StationingPlan) -> list[dict[str, Any]]:
    """Each dispatching unit's establishment and how many of its cadres the plan sends; the 20% rule is checked
    for county units only (province and city units are shown, 003 §三(二))."""
    sent: dict[int, int] = {}
    for unit_id in session.exec(select(Cadre.unit_id).join(TeamMember, col(TeamMember.cadre_id) == Cadre.id)
                                   .join(StationingTeam, col(TeamMember.team_id) == StationingTeam.id)
                                   .where(StationingTeam.plan_id == plan.id)):
        sent[unit_id] = sent.get(unit_id, 0) + 1
    settings = service.rules()
    out = []
    for unit in session.exec(select(OrgUnit).where(OrgUnit.kind == "unit").order_by(col(OrgUnit.code))):
        count = sent.get(unit.id or 0, 0)
        problem = (unit_share_problem(unit.name, unit.establishment_size, count, settings)
                   if unit.unit_level == "county" and unit.establishment_size else None)
        out.append({"code": unit.code, "name": unit.name, "level": unit.unit_level,
                    "establishment_size": unit.establishment_size, "sent": count, "checked": unit.unit_level == "county",
                    "problem": problem})
    return out


def _username(session: Session, user_id: int | None) -> str | None:
    user = session.get(User, user_id) if user_id else None
    return user.display_name if user else None


def plan_detail(session: Session, principal: Principal, year: int, *, today: dt.date) -> dict[str, Any]:
    """The year's plan: its state, the arrival day of its batch, the teams the caller may see with each team's
    required size and members' arrival, the units' shares and what still keeps a draft from review."""
    plan = service.load_plan(session, year)
    programme = session.get(Programme, plan.programme_id)
    teams = _teams(session, principal, plan, today)
    return {
        "year": plan.year, "programme": _programme(session, programme, today) if programme else None,
        "batch": plan.batch, "status": plan.status, "status_label": StationingPlanStatus.label_of(plan.status),
        "version": plan.version, "note": plan.note, "decision_note": plan.decision_note,
        "submitted_by": _username(session, plan.submitted_by), "submitted_by_id": plan.submitted_by,
        "submitted_at": plan.submitted_at, "decided_by": _username(session, plan.decided_by),
        "decided_at": plan.decided_at, "arrival_due": service.arrival_due(session, plan),
        "teams": teams, "units": _shares(session, plan) if principal.townships is None else [],
        "problems": _visible_problems(session, principal, plan, teams),
    }


def _row(i: int, team: dict[str, Any]) -> dict[str, Any]:
    members = team["members"]
    arrivals = sorted({m["arrived_on"].isoformat() for m in members if m["arrived_on"]})
    notes = [team["carried"]] if team["carried"] else []
    notes += [f"{m['name']}{m['arrival_label']}" for m in members if m["arrival"] in ("late", "missing", "left")]
    return {
        "index": i, "township": team["township_name"], "village": team["village_name"],
        "collective_income": team["collective_income"], "required_size": team["required_size"],
        "unit": team["unit_name"], "leader": team["leader_name"] or "", "leader_post": team["leader_post"] or "",
        "cadres": "、".join(m["name"] for m in members), "arrived_on": "、".join(arrivals), "note": "；".join(notes),
    }


def plan_rows(session: Session, principal: Principal, year: int, *, today: dt.date,
              township: str | None = None) -> list[dict[str, Any]]:
    """The 选派安排表 as the county keeps it: a row per team the caller may see (of ``township`` when given)."""
    teams = [t for t in plan_detail(session, principal, year, today=today)["teams"]
             if township is None or t["township"] == township]
    return [_row(i + 1, team) for i, team in enumerate(teams)]

