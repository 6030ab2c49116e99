"""A campaign's targets (指标) as the caller may see them: each target with its requirement, status (达标, 未达标,
无数据, 目标值待设定), the value found, what falls short, the evidence and the document it comes from."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from domain.targets import TargetResult
from domain.vocabulary import TargetStatus
from models import Campaign, OrgUnit
from tasks.accounts import Principal
from tasks.reads.campaigns import definition_name
from tasks.scope import visible
from tasks.targets import evaluate_campaigns


def status_counts(results: Sequence[TargetResult]) -> dict[str, int]:
    """How many targets stand at each status, every status named (``{"met": 3, "not_met": 1, …}``)."""
    counted = Counter(str(r.status) for r in results)
    return {str(status): counted.get(str(status), 0) for status in TargetStatus}


def campaign_targets(session: Session, principal: Principal, campaign_id: int) -> dict[str, Any]:
    """One campaign's targets, evaluated now; 404 outside the caller's townships."""
    campaign = session.get(Campaign, campaign_id)
    visible(principal, campaign, campaign.township_id if campaign else None, f"没有编号为 {campaign_id} 的督办任务")
    assert campaign is not None
    township = session.get(OrgUnit, campaign.township_id)
    results = evaluate_campaigns(session, [campaign])[campaign_id]
    return {
        "campaign_id": campaign_id, "definition": campaign.definition_key,
        "definition_name": definition_name(campaign.definition_key), "year": campaign.year,
        "township": township.code if township else "", "township_name": township.name if township else "",
        "counts": status_counts(results), "targets": [r.as_dict() for r in results],
    }
