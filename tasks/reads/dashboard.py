"""The county dashboard's figures: townships × stages of one definition's campaigns in one year, on-time
submission rates (per township and per quarter), open escalations and accountability cases, progress
of the rectified villages and townships × targets (met, not met, no data) — each within the caller's townships."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from sqlalchemy import BindParameter, Date, Integer, String, bindparam, cast, literal_column, null, union_all
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, func, select

from core.db import execute_prebuilt
from domain.errors import PermissionDenied
from domain.vocabulary import RectificationStatus
from models import AccountabilityCase, Campaign, Escalation, Obligation, OrgUnit, Stage, VillageRectification
from tasks.accounts import Principal
from tasks.registry import get_definitions, refresh
from tasks.scope import scoped
from tasks.targets import evaluate_campaigns


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


def accountability_case_counts(session: Session, campaign_ids: list[int]) -> dict[int, int]:
    """Open accountability cases (问责) of the campaigns ``campaign_ids``, per township."""
    if not campaign_ids:
        return {}
    rows = session.exec(select(AccountabilityCase.township_id, func.count())
                        .where(col(AccountabilityCase.campaign_id).in_(campaign_ids), AccountabilityCase.status == "open")
                        .group_by(col(AccountabilityCase.township_id)))
    return {int(t): int(n) for t, n in rows}


def quarter_of(day: dt.date) -> str:
    return f"{day.year}年第{(day.month - 1) // 3 + 1}季度"


_LAUNCHED = (select(Campaign.definition_key, Campaign.year, func.count())
             .group_by(col(Campaign.definition_key), col(Campaign.year)).order_by(col(Campaign.year).desc()))
_TOWNSHIPS = sa_select(col(OrgUnit.id), col(OrgUnit.code), col(OrgUnit.name)).where(col(OrgUnit.kind) == "township") \
    .order_by(col(OrgUnit.code))
"""The townships as the page shows them (``tasks.reads.org_units.townships`` in plain columns)."""


def launched(session: Session, principal: Principal) -> list[tuple[str, int, int]]:
    """(definition, year, campaigns) launched in the caller's townships, newest year first, for loaded definitions."""
    definitions = get_definitions()
    rows = session.exec(scoped(_LAUNCHED, principal, Campaign.township_id)).all()
    return [(k, y, n) for k, y, n in rows if k in definitions]


@dataclass
class _Figures:
    """What the dashboard counts for one definition and year, per township (by id) and per campaign (by id)."""

    campaigns: dict[int, Campaign]
    stages: dict[int, dict[str, Any]] = field(default_factory=lambda: defaultdict(dict))  # rows with .status
    # per campaign: (status, due_on, n) — the deadlines counted in SQL, one row per status and due date
    obligations: dict[int, list[Any]] = field(default_factory=lambda: defaultdict(list))
    escalations: dict[int, int] = field(default_factory=dict)
    cases: dict[int, int] = field(default_factory=dict)
    rectifications: dict[int, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))


# The statements are built once: building and keying a statement costs more than SQLite takes to run it.
_CAMPAIGNS = select(Campaign).where(Campaign.definition_key == bindparam("definition"), Campaign.year == bindparam("year"),
                                    col(Campaign.township_id).in_(bindparam("townships", expanding=True)))
_OBLIGATIONS, _STAGES, _RECTIFICATIONS, _ESCALATIONS, _CASES = range(5)


_COLUMNS = (("campaign_id", Integer), ("township_id", Integer), ("key", String), ("status", String), ("due_on", Date),
            ("n", Integer))


def _counted(part: int, *columns: Any) -> Any:
    """One part of ``_COUNTS``: (part, campaign_id, township_id, key, status, due_on, n); None for a column the part
    leaves empty."""
    return sa_select(literal_column(str(part)).label("part"),
                     *((cast(null(), kind) if c is None else c).label(name) for c, (name, kind) in zip(columns, _COLUMNS, strict=True)))


_IDS: BindParameter[list[int]] = bindparam("campaigns", expanding=True)
_COUNTS = union_all(
    # the deadlines first: the union's columns take their types (the due date's) from the first part
    _counted(_OBLIGATIONS, col(Obligation.campaign_id), None, None, col(Obligation.status), col(Obligation.due_on),
             func.count()).where(col(Obligation.campaign_id).in_(_IDS))
    .group_by(col(Obligation.campaign_id), col(Obligation.status), col(Obligation.due_on)),
    _counted(_STAGES, col(Stage.campaign_id), None, col(Stage.key), col(Stage.status), None, literal_column("1"))
    .where(col(Stage.campaign_id).in_(_IDS)),
    _counted(_RECTIFICATIONS, col(VillageRectification.campaign_id), None, None, col(VillageRectification.status),
             None, func.count())
    .where(col(VillageRectification.campaign_id).in_(_IDS), VillageRectification.status != RectificationStatus.REMOVED)
    .group_by(col(VillageRectification.campaign_id), col(VillageRectification.status)),
    # Every count follows the selected campaign: another campaign's escalations are not this one's.
    _counted(_ESCALATIONS, None, col(Escalation.township_id), None, None, None, func.count())
    .where(Escalation.status == "open", col(Escalation.campaign_id).in_(_IDS)).group_by(col(Escalation.township_id)),
    _counted(_CASES, None, col(AccountabilityCase.township_id), None, None, None, func.count())
    .where(col(AccountabilityCase.campaign_id).in_(_IDS), AccountabilityCase.status == "open")
    .group_by(col(AccountabilityCase.township_id)),
)
"""Everything the dashboard counts of some campaigns in one statement: deadlines by status and due date, stages,
rectified villages by status, and open escalations and accountability cases per township."""


def _figures(session: Session, definition: str, year: int, ids: list[int]) -> _Figures:
    figures = _Figures({c.township_id: c for c in session.exec(
        _CAMPAIGNS, params={"definition": definition, "year": year, "townships": ids})})
    if not figures.campaigns:
        return figures
    by_campaign = {c.id: c.township_id for c in figures.campaigns.values()}
    for row in execute_prebuilt(session, _COUNTS, {"campaigns": list(by_campaign)}):
        part = row.part
        if part == _OBLIGATIONS:
            figures.obligations[row.campaign_id].append(_Deadlines(row.status, row.due_on, row.n))
        elif part == _STAGES:
            figures.stages[row.campaign_id][row.key] = row  # the page shows each stage's status
        elif part == _RECTIFICATIONS:
            figures.rectifications[by_campaign[row.campaign_id]][row.status] += row.n
        elif part == _ESCALATIONS:
            figures.escalations[row.township_id] = row.n
        else:
            figures.cases[int(row.township_id)] = int(row.n)
    return figures


class _Deadlines(NamedTuple):
    """``n`` deadlines of one status and due date."""

    status: str
    due_on: dt.date
    n: int


def _township_row(township: Any, figures: _Figures, today: dt.date, quarters: dict[str, list[int]],
                  quarter_names: dict[dt.date, str]) -> dict[str, Any]:
    """One township's line of the table; its deadlines are also added to the per-quarter counts."""
    campaign = figures.campaigns.get(township.id or 0)
    obs = figures.obligations.get(campaign.id or 0, []) if campaign else []
    on_time = due = late = missed = 0
    for status, due_on, n in obs:  # n deadlines of one status and due date, counted as on_time_counts does
        q_on = n if status == "met" else 0
        q_due = n if status in ("met", "late") or (due_on < today and status != "waived") else 0
        on_time, due = on_time + q_on, due + q_due
        late += n if status == "late" else 0
        missed += n if status == "missed" else 0
        quarter = quarter_names.get(due_on)
        if quarter is None:
            quarter = quarter_names[due_on] = quarter_of(due_on)
        counts_of_quarter = quarters[quarter]
        counts_of_quarter[0] += q_on
        counts_of_quarter[1] += q_due
    counts = figures.rectifications.get(township.id or 0, Counter())
    return {
        "township": township, "campaign": campaign,
        "stages": figures.stages.get(campaign.id or 0, {}) if campaign else {},
        "on_time": on_time, "due": due, "rate": round(100 * on_time / due) if due else None,
        "late": late, "missed": missed,
        "escalations": int(figures.escalations.get(township.id or 0, 0)), "cases": figures.cases.get(township.id or 0, 0),
        "rectifications": counts, "rectified": counts["consolidating"] + counts["closed"],
        "rectification_total": sum(counts.values()),
    }


def dashboard(session: Session, principal: Principal, today: dt.date, *, definition: str = "",
              year: int | None = None) -> dict[str, Any]:
    """The dashboard of one definition's campaigns in one year (by default the newest launched in the caller's
    townships): a row per township, on-time rates per quarter, totals, and the choices of definition and year.
    Only for ``may_see_dashboard`` (403 for others)."""
    if not may_see_dashboard(principal):
        raise PermissionDenied("督办看板只对县委组织部、县级审核人和县领导开放")
    refresh(session)  # the names of the newest versions, whichever process published them
    definitions = get_definitions()
    choices = launched(session, principal)
    if not definition or year is None:
        definition, year = (choices[0][0], choices[0][1]) if choices else (definition or next(iter(sorted(definitions)), ""), year or today.year)
    spec = definitions.get(definition)
    towns = session.execute(scoped(_TOWNSHIPS, principal, OrgUnit.id)).all()
    figures = _figures(session, definition, year, [t.id or 0 for t in towns])
    quarters: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    quarter_names: dict[dt.date, str] = {}
    rows = [_township_row(t, figures, today, quarters, quarter_names) for t in towns]
    results = evaluate_campaigns(session, list(figures.campaigns.values()))
    for row in rows:
        row["targets"] = {r.key: r for r in results.get(row["campaign"].id or 0, [])} if row["campaign"] else {}
    return {
        "definition": spec, "definition_key": definition, "year": year, "today": today,
        "choices": [{"key": k, "name": definitions[k].name, "year": y, "count": n} for k, y, n in choices],
        "stage_defs": spec.stages if spec else [], "rows": rows,
        "quarter_rows": [(q, round(100 * v[0] / v[1]) if v[1] else 0, f"{v[0]}/{v[1]}") for q, v in sorted(quarters.items()) if v[1]],
        "target": next((t for t in spec.targets if t.key == "five_good_rate"), None) if spec else None,
        "target_defs": spec.targets if spec else [],
        "totals": {"on_time": sum(r["on_time"] for r in rows), "due": sum(r["due"] for r in rows),
                   "escalations": sum(r["escalations"] for r in rows), "cases": sum(r["cases"] for r in rows)},
    }
