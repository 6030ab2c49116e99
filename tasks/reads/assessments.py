"""The year-end assessment (年度考核) of each township: every target of its campaigns of the year (met, not met, no
data, with the value, the evidence and the document), the escalations and accountability cases of those campaigns,
the rating consequences the cases carry (``tasks.accountability.rating_consequences``) and the gate-check
overrides. The year is the campaign year each definition declares (a weak-village campaign launched in September
of Y is assessed in Y's assessment, with the figures of its acceptance application filed in Y+1); rating
consequences are those decided for the rating year Y. County roles see every township, a township its own, an
observer its contact townships (``tasks.scope``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from models import AccountabilityCase, Campaign, Escalation, OrgUnit
from tasks.accountability import rating_consequences
from tasks.accounts import Principal
from tasks.reads import desk as desk_reads
from tasks.reads import overrides as override_reads
from tasks.reads.campaigns import definition_name
from tasks.reads.cases import case_public
from tasks.reads.escalations import present
from tasks.reads.org_units import townships
from tasks.reads.stationing_assessment import list_unit_assessments
from tasks.reads.targets import status_counts
from tasks.scope import scoped, visible
from tasks.targets import evaluate_campaigns


def gate_check_overrides(session: Session, township: OrgUnit, year: int) -> list[dict[str, Any]]:
    """The gate checks an administrator overrode (passed over a failed check, with a written reason) in
    ``township``'s campaigns of ``year``, for the assessment, its page and its ledger: each a dict with at least
    ``campaign_id``, ``gate``, ``check``, ``reason``, ``by`` and ``at``.

    Read from the overrides the gate checks record (``tasks.reads.overrides``)."""
    return [{
        "campaign_id": o["campaign_id"], "gate": o["gate_name"],
        "check": "、".join(str(c.get("name", c.get("key", ""))) for c in o["checks"]), "reason": o["reason"],
        "by": o["decided_by"] or "", "at": o["decided_at"], "submission_id": o["submission_id"],
    } for o in override_reads.of_campaigns(session, township_id=township.id or 0, campaign_year=year)]


def assessments(session: Session, principal: Principal, year: int, *, township: str | None = None) -> list[dict[str, Any]]:
    """The assessment of every township the caller may see (only ``township``'s when a code is given), by code.
    Every campaign of the year is evaluated at once, and its escalations and cases read in two queries."""
    towns = [t for t in townships(session, principal) if township is None or t.code == township]
    by_id = {t.id or 0: t for t in towns}
    campaigns = list(session.exec(select(Campaign).where(Campaign.year == year, col(Campaign.township_id).in_(by_id))
                                  .order_by(col(Campaign.definition_key), col(Campaign.id)))) if by_id else []
    results = evaluate_campaigns(session, campaigns)
    ids = [c.id or 0 for c in campaigns]
    escalations = present(session, list(session.exec(select(Escalation).where(col(Escalation.campaign_id).in_(ids))
                                                      .order_by(col(Escalation.id))))) if ids else []
    case_rows = list(session.exec(scoped(select(AccountabilityCase), principal, AccountabilityCase.township_id)
                                  .where(col(AccountabilityCase.campaign_id).in_(ids))
                                  .order_by(col(AccountabilityCase.id)))) if ids else []
    cases = [case_public(k, by_id) for k in case_rows]
    ratings = {r["township"]: r for r in rating_consequences(session, principal, year)}
    grouped: dict[int, list[Campaign]] = defaultdict(list)
    for campaign in campaigns:
        grouped[campaign.township_id].append(campaign)
    out = [_assessment(session, t, year, grouped.get(t.id or 0, []), results,
                       [e for e in escalations if e["township"] == t.code], [k for k in cases if k["township"] == t.code],
                       ratings.get(t.code)) for t in towns]
    desk = desk_reads.year_scores(session, year) if towns else {}
    for a in out:  # the 督办 desk's score of the year, with its rule (tasks.reads.desk)
        a["desk"] = desk.get(a["township"])
    return out


def _assessment(session: Session, township: OrgUnit, year: int, campaigns: Sequence[Campaign],
                results: dict[int, Any], escalations: list[dict[str, Any]], cases: list[dict[str, Any]],
                rating: dict[str, Any] | None) -> dict[str, Any]:
    everything = [r for c in campaigns for r in results.get(c.id or 0, [])]
    return {
        "township": township.code, "township_name": township.name, "year": year, "counts": status_counts(everything),
        "campaigns": [{
            "id": c.id, "definition": c.definition_key, "definition_name": definition_name(c.definition_key),
            "status": c.status, "counts": status_counts(results.get(c.id or 0, [])),
            "targets": [r.as_dict() for r in results.get(c.id or 0, [])],
        } for c in campaigns],
        "escalations": escalations, "cases": cases,
        "rating": {"cap": rating["cap"], "cap_label": rating["cap_label"], "cases": rating["cases"]} if rating else None,
        "overrides": gate_check_overrides(session, township, year),
    }


def summary(assessment: dict[str, Any]) -> dict[str, Any]:
    """One township's line of the year's list: the target counts, escalations, cases and the rating cap."""
    return {
        "township": assessment["township"], "township_name": assessment["township_name"], "year": assessment["year"],
        "campaigns": [c["definition_name"] for c in assessment["campaigns"]], "counts": assessment["counts"],
        "escalations": len(assessment["escalations"]), "cases": len(assessment["cases"]),
        "rating_cap": assessment["rating"]["cap_label"] if assessment["rating"] else None,
        "overrides": len(assessment["overrides"]),
    }


def list_assessments(session: Session, principal: Principal, *, year: int) -> dict[str, Any]:
    """The year's assessments of the caller's townships, a line each, and the dispatching units' assessments
    (``units``: whether each sent and kept its cadres and the rating after the downgrade, 003 四(五))."""
    items = [summary(a) for a in assessments(session, principal, year)]
    return {"year": year, "items": items, "total": len(items),
            "units": list_unit_assessments(session, principal, year=year)}


def get_assessment(session: Session, principal: Principal, township: str, year: int) -> dict[str, Any]:
    """One township's assessment of ``year``; an unknown township and one outside the caller's scope answer 404
    alike."""
    unit = session.exec(select(OrgUnit).where(OrgUnit.code == township, OrgUnit.kind == "township")).first()
    visible(principal, unit, unit.id if unit else None, f"没有编码为 {township} 的乡镇")
    return assessments(session, principal, year, township=township)[0]


def assessment_years(session: Session, principal: Principal) -> list[int]:
    """The campaign years of the caller's townships, newest first (the page's choices)."""
    stmt = scoped(select(Campaign.year).distinct(), principal, Campaign.township_id)
    return sorted({int(y) for y in session.exec(stmt)}, reverse=True)
