"""The county dashboard: townships × stages, on-time submission rates, open escalations and progress
toward the rectification targets, with server-rendered SVG charts. Read-only; scoped like the API."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, col, func, select

from api.deps import ClockDep, PagePrincipal, SessionDep
from api.routes.web import HtmlErrorRoute, _render
from api.types import CleanStr
from core.clock import local_today
from domain.errors import PermissionDenied
from models import Campaign, Escalation, Obligation, OrgUnit, Stage, VillageRectification
from tasks.accounts import Principal
from tasks.registry import get_definitions

router = APIRouter(include_in_schema=False, route_class=HtmlErrorRoute)

RECTIFICATION_LABELS = {"rectifying": "整顿中", "applied": "已申请验收", "consolidating": "已验收（巩固提升）", "closed": "已销号"}


def may_see_dashboard(principal: Principal) -> bool:
    """The county's view: administrators, county-level reviewers and observers (within their contact townships)."""
    user = principal.user
    return user.role in ("admin", "observer") or (user.role == "reviewer" and user.level == "county")


class _Deadline(Protocol):
    status: str
    due_on: dt.date


def on_time_counts(obligations: Sequence[_Deadline], today: dt.date) -> tuple[int, int]:
    """(met on time, due so far): a deadline counts once it has passed or been met; only ``met`` is on time
    (``late`` was approved after its first submission missed the due date, ``missed`` never arrived)."""
    due = [o for o in obligations if o.status in ("met", "late") or (o.due_on < today and o.status != "waived")]
    return sum(1 for o in due if o.status == "met"), len(due)


def accountability_case_counts(session: Session, township_ids: list[int]) -> dict[int, int]:
    """Open accountability cases (问责) per township."""
    from models import AccountabilityCase

    if not township_ids:
        return {}
    rows = session.exec(select(AccountabilityCase.township_id, func.count())
                        .where(col(AccountabilityCase.township_id).in_(township_ids), AccountabilityCase.status == "open")
                        .group_by(col(AccountabilityCase.township_id)))
    return {int(t): int(n) for t, n in rows}


def _quarter(day: dt.date) -> str:
    return f"{day.year}年第{(day.month - 1) // 3 + 1}季度"


def _bars(rows: Sequence[tuple[str, float, str]], width: int = 560, unit: str = "%", maximum: float = 100.0) -> dict[str, Any]:
    """Geometry of a horizontal bar chart (label, value, caption) for the SVG template."""
    bar_h, gap, label_w = 22, 8, 120
    scale = (width - label_w - 120) / maximum if maximum else 0
    bars = [{"label": label, "value": value, "caption": caption, "y": i * (bar_h + gap), "w": max(0.0, value * scale),
             "x": label_w, "h": bar_h} for i, (label, value, caption) in enumerate(rows)]
    return {"bars": bars, "width": width, "height": max(1, len(rows)) * (bar_h + gap), "label_w": label_w, "unit": unit}


@router.get("/dashboard", response_class=HTMLResponse, response_model=None)
def dashboard(request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep,
              definition: CleanStr = "", year: Annotated[int | None, Query(ge=1900, le=2200)] = None,
              pick: CleanStr = "") -> HTMLResponse:
    if not may_see_dashboard(principal):
        raise PermissionDenied("督办看板只对县委组织部、县级审核人和县领导开放")
    today = local_today(clock)
    definitions = get_definitions()
    picked_key, _, picked_year = pick.partition("|")
    # Four ASCII digits: "²" passes isdigit() but not int(), and a huge number cannot reach the database.
    if picked_key and len(picked_year) == 4 and picked_year.isascii() and picked_year.isdigit():
        definition, year = picked_key, int(picked_year)
    scope = col(Campaign.township_id).in_(principal.townships) if principal.townships is not None else True
    launched = session.exec(select(Campaign.definition_key, Campaign.year, func.count()).where(scope)
                            .group_by(col(Campaign.definition_key), col(Campaign.year))
                            .order_by(col(Campaign.year).desc())).all()
    choices = [(k, y, n) for k, y, n in launched if k in definitions]
    if not definition or year is None:
        definition, year = (choices[0][0], choices[0][1]) if choices else (definition or next(iter(sorted(definitions)), ""), year or today.year)
    spec = definitions.get(definition)

    township_stmt = select(OrgUnit).where(OrgUnit.kind == "township").order_by(col(OrgUnit.code))
    if principal.townships is not None:
        township_stmt = township_stmt.where(col(OrgUnit.id).in_(principal.townships))
    townships = list(session.exec(township_stmt))
    ids = [t.id or 0 for t in townships]
    campaigns = {c.township_id: c for c in session.exec(select(Campaign).where(
        Campaign.definition_key == definition, Campaign.year == year, col(Campaign.township_id).in_(ids)))}
    campaign_ids = [c.id or 0 for c in campaigns.values()]
    stages: dict[int, dict[str, Stage]] = defaultdict(dict)
    obligations: dict[int, list[Any]] = defaultdict(list)  # (campaign_id, status, due_on) rows: no ORM objects
    if campaign_ids:
        for stage in session.exec(select(Stage).where(col(Stage.campaign_id).in_(campaign_ids))):
            stages[stage.campaign_id][stage.key] = stage
        for ob in session.execute(select(col(Obligation.campaign_id), col(Obligation.status), col(Obligation.due_on))
                                  .where(col(Obligation.campaign_id).in_(campaign_ids))):
            obligations[ob.campaign_id].append(ob)

    escalations = dict(session.exec(select(Escalation.township_id, func.count()).where(
        Escalation.status == "open", col(Escalation.township_id).in_(ids)).group_by(col(Escalation.township_id))).all())
    cases = accountability_case_counts(session, ids)
    rectifications: dict[int, Counter[str]] = defaultdict(Counter)
    if campaign_ids:
        by_campaign = {c.id: c.township_id for c in campaigns.values()}
        for cid, status in session.exec(select(VillageRectification.campaign_id, VillageRectification.status)
                                        .where(col(VillageRectification.campaign_id).in_(campaign_ids))):
            rectifications[by_campaign[cid]][status] += 1

    rows: list[dict[str, Any]] = []
    quarters: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for t in townships:
        campaign = campaigns.get(t.id or 0)
        obs = obligations.get(campaign.id or 0, []) if campaign else []
        on_time, due = on_time_counts(obs, today)
        for ob in obs:
            q_on, q_due = on_time_counts([ob], today)
            quarters[_quarter(ob.due_on)][0] += q_on
            quarters[_quarter(ob.due_on)][1] += q_due
        counts = rectifications.get(t.id or 0, Counter())
        rows.append({
            "township": t, "campaign": campaign,
            "stages": stages.get(campaign.id or 0, {}) if campaign else {},
            "on_time": on_time, "due": due, "rate": round(100 * on_time / due) if due else None,
            "late": sum(1 for o in obs if o.status == "late"), "missed": sum(1 for o in obs if o.status == "missed"),
            "escalations": int(escalations.get(t.id or 0, 0)), "cases": cases.get(t.id or 0, 0),
            "rectifications": counts, "rectified": counts["consolidating"] + counts["closed"],
            "rectification_total": sum(counts.values()),
        })
    quarter_rows = [(q, round(100 * v[0] / v[1]) if v[1] else 0, f"{v[0]}/{v[1]}") for q, v in sorted(quarters.items()) if v[1]]
    township_chart = _bars([(r["township"].name, r["rate"] or 0, f"{r['on_time']}/{r['due']}") for r in rows if r["due"]])
    quarter_chart = _bars(quarter_rows)
    rect_total = sum(r["rectification_total"] for r in rows)
    rect_chart = _bars([(RECTIFICATION_LABELS[s], float(sum(r["rectifications"][s] for r in rows)),
                         str(sum(r["rectifications"][s] for r in rows))) for s in RECTIFICATION_LABELS],
                       unit="个", maximum=float(rect_total or 1)) if rect_total else None
    target = next((t for t in spec.targets if t.key == "five_good_rate"), None) if spec else None
    return _render(request, "dashboard.html", {
        "user": principal.user, "definition": spec, "definition_key": definition, "year": year, "today": today,
        "choices": [{"key": k, "name": definitions[k].name, "year": y, "count": n} for k, y, n in choices],
        "stage_defs": spec.stages if spec else [], "rows": rows, "township_chart": township_chart,
        "quarter_chart": quarter_chart, "quarter_rows": quarter_rows, "rect_chart": rect_chart, "rect_total": rect_total,
        "rect_labels": RECTIFICATION_LABELS, "target": target,
        "totals": {"on_time": sum(r["on_time"] for r in rows), "due": sum(r["due"] for r in rows),
                   "escalations": sum(r["escalations"] for r in rows), "cases": sum(r["cases"] for r in rows)},
    })
