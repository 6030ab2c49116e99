"""SQLModel tables and API schemas. Importing this package registers every table."""

from models.campaign import (
    BatchItem,
    BatchLaunchRequest,
    BatchResult,
    CalendarYear,
    Campaign,
    CampaignPublic,
    CampaignSummary,
    IdempotencyRecord,
    LaunchRequest,
    Obligation,
    ObligationPublic,
    Stage,
    StagePublic,
)
from models.org import OrgKind, OrgUnit, OrgUnitIn, OrgUnitPublic

__all__ = [
    "BatchItem", "BatchLaunchRequest", "BatchResult", "CalendarYear", "Campaign", "CampaignPublic",
    "CampaignSummary", "IdempotencyRecord", "LaunchRequest", "Obligation", "ObligationPublic",
    "OrgKind", "OrgUnit", "OrgUnitIn", "OrgUnitPublic", "Stage", "StagePublic",
]
