"""Rectified villages (整顿村) and where each stands, as the caller may see them."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from models import Campaign, OrgUnit, VillageRectification
from tasks.accounts import Principal
from tasks.reads import where_given
from tasks.scope import scoped


def rectification_public(row: VillageRectification, village: OrgUnit | None) -> dict[str, Any]:
    return {
        "id": row.id, "campaign_id": row.campaign_id, "village": village.code if village else None,
        "village_name": village.name if village else None, "status": row.status,
        "failed_acceptances": row.failed_acceptances, "relapses": row.relapses, "accepted_on": row.accepted_on,
        "consolidation_ends_on": row.consolidation_ends_on, "closed_on": row.closed_on, "listed_on": row.listed_on,
        "removed_on": row.removed_on, "note": row.note,
        "version": row.version,
    }


def present_rectification(session: Session, row: VillageRectification) -> dict[str, Any]:
    return rectification_public(row, session.get(OrgUnit, row.village_id))


def list_rectifications(session: Session, principal: Principal, *, campaign: int | None = None) -> list[dict[str, Any]]:
    """The rectified villages of the caller's townships, by id, optionally of one campaign."""
    stmt = (select(VillageRectification, OrgUnit)
            .join(Campaign, col(VillageRectification.campaign_id) == Campaign.id)
            .join(OrgUnit, col(VillageRectification.village_id) == OrgUnit.id))
    stmt = where_given(scoped(stmt, principal, Campaign.township_id), (VillageRectification.campaign_id, campaign))
    return [rectification_public(r, v) for r, v in session.exec(stmt.order_by(col(VillageRectification.id)))]
