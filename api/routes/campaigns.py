"""Launch campaigns and read them back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from api.deps import ClockDep, CurrentPrincipal, ReadSessionDep, SessionDep
from api.routes.problems import READ, WRITE
from api.types import CleanStr, DbId, DbOffset
from domain.errors import Conflict, NotFound, ValidationFailed
from domain.planning import LateStart
from flows.launch import launch_campaign, launch_for_townships
from models import (
    BatchItem,
    BatchLaunchRequest,
    BatchResult,
    CampaignPublic,
    LateDeadlinePublic,
    LaunchedCampaign,
    LaunchRequest,
)
from tasks.launch import check_year, request_hash
from tasks.reads import campaigns as reads
from tasks.reads import targets as target_reads
from tasks.registry import get_definition

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"], responses=READ)


@router.post("", status_code=201, response_model=LaunchedCampaign, summary="Launch one township's campaign", responses=WRITE)
async def create_campaign(
    body: LaunchRequest,
    session: SessionDep,
    clock: ClockDep,
    principal: CurrentPrincipal,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> LaunchedCampaign:
    """``late`` decides what becomes of the deadlines already past at launch (waived, or owed by a catch-up date
    ``catch_up_workdays`` working days later); ``affected`` lists them (empty on a replay)."""
    principal.require_role("admin")
    definition = get_definition_for_body(body.definition)
    check_year(definition, body.year)
    idempotency = (idempotency_key, request_hash(body.model_dump(mode="json", exclude_defaults=True))) if idempotency_key else None
    result = await launch_campaign(body.definition, body.township, body.year, now=clock.now(), idempotency=idempotency,
                                   late=LateStart(body.late, body.catch_up_workdays), by=(principal.by.id, principal.by.name))
    campaign_id = result["campaign_id"]
    if result["status"] == "exists":
        raise Conflict(result["detail"], campaign_id=campaign_id)
    response.headers["Location"] = f"/api/v1/campaigns/{campaign_id}"
    if result["status"] == "replayed":
        response.headers["Idempotent-Replayed"] = "true"
    session.expire_all()
    campaign = reads.get_campaign(session, principal, campaign_id)
    return LaunchedCampaign(**campaign.model_dump(), late=body.late,
                            affected=[LateDeadlinePublic(**a) for a in result.get("affected", [])])


def get_definition_for_body(key: str) -> Any:
    try:
        return get_definition(key)
    except NotFound as exc:
        raise ValidationFailed(exc.detail, errors=[{"field": "definition", "message": "unknown definition"}]) from None


@router.post("/batch", response_model=BatchResult, summary="Launch a campaign for many (or all) townships", responses=WRITE)
async def create_campaigns_batch(body: BatchLaunchRequest, clock: ClockDep, principal: CurrentPrincipal) -> BatchResult:
    principal.require_role("admin")
    definition = get_definition_for_body(body.definition)
    check_year(definition, body.year)
    items = await launch_for_townships(body.definition, body.year, townships=body.townships, now=clock.now(),
                                       late=LateStart(body.late, body.catch_up_workdays),
                                       by=(principal.by.id, principal.by.name))
    parsed = [BatchItem(**item) for item in items]
    return BatchResult(
        definition=body.definition,
        year=body.year,
        created=sum(1 for i in parsed if i.status == "created"),
        existing=sum(1 for i in parsed if i.status == "exists"),
        failed=sum(1 for i in parsed if i.status == "failed"),
        items=parsed,
    )


@router.get("", summary="List campaigns, filtered by township, year and definition")
def list_campaigns(
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    township: Annotated[CleanStr | None, Query(max_length=32)] = None,
    year: Annotated[int | None, Query(ge=1900, le=2200)] = None,
    definition: Annotated[CleanStr | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[DbOffset, Query()] = 0,
) -> dict[str, Any]:
    return reads.list_campaigns(session, principal, township=township, year=year, definition=definition, limit=limit,
                                offset=offset).as_dict()


@router.get("/{campaign_id}", response_model=CampaignPublic, summary="One campaign with its stages and deadlines")
def read_campaign(campaign_id: DbId, session: ReadSessionDep, principal: CurrentPrincipal) -> CampaignPublic:
    return reads.get_campaign(session, principal, campaign_id)


@router.get("/{campaign_id}/targets", summary="The campaign's targets: met, not met, no data, with value and evidence")
def read_campaign_targets(campaign_id: DbId, session: ReadSessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Each target of the campaign's definition, computed from its approved submissions and the org data:
    ``status`` (met | not_met | no_data | unset, with ``status_label``), ``requirement``, ``value``, ``shortfalls``
    (the villages or periods that miss it), ``evidence`` (which submission and field, or the org data) and
    ``source`` (the document)."""
    return target_reads.campaign_targets(session, principal, campaign_id)
