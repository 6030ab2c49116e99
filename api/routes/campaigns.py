"""Launch campaigns and read them back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from sqlalchemy import func
from sqlmodel import Session, select

from api.deps import ClockDep, CurrentPrincipal, SessionDep
from api.routes.problems import READ, WRITE
from api.types import CleanStr, DbId, DbOffset
from domain.errors import Conflict, NotFound, ValidationFailed
from flows.launch import launch_campaign, launch_for_townships
from models import (
    BatchItem,
    BatchLaunchRequest,
    BatchResult,
    Campaign,
    CampaignPublic,
    CampaignSummary,
    LaunchRequest,
    Obligation,
    ObligationPublic,
    OrgUnit,
    Stage,
    StagePublic,
)
from tasks.accounts import Principal
from tasks.launch import check_year, request_hash
from tasks.registry import get_definition, get_definitions

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"], responses=READ)


def _definition_name(key: str) -> str:
    definition = get_definitions().get(key)
    return definition.name if definition else key


def _summary(campaign: Campaign, township: OrgUnit) -> CampaignSummary:
    return CampaignSummary(
        id=campaign.id or 0,
        definition=campaign.definition_key,
        definition_name=_definition_name(campaign.definition_key),
        definition_version=campaign.definition_version,
        township=township.code,
        township_name=township.name,
        year=campaign.year,
        status=campaign.status,
        launched_at=campaign.launched_at,
    )


def campaign_public(session: Session, campaign_id: int, principal: Principal | None = None) -> CampaignPublic:
    row = session.exec(
        select(Campaign, OrgUnit).join(OrgUnit, Campaign.township_id == OrgUnit.id).where(Campaign.id == campaign_id)  # type: ignore[arg-type]
    ).first()
    if row is None or (principal is not None and not principal.can_see(row[0].township_id)):
        raise NotFound(f"没有编号为 {campaign_id} 的督办任务")
    campaign, township = row
    stages = session.exec(select(Stage).where(Stage.campaign_id == campaign_id).order_by(Stage.seq)).all()  # type: ignore[arg-type]
    stage_keys = {s.id: s.key for s in stages}
    obligations = session.exec(
        select(Obligation, OrgUnit)
        .join(OrgUnit, Obligation.subject_id == OrgUnit.id)  # type: ignore[arg-type]
        .where(Obligation.campaign_id == campaign_id)
        .order_by(Obligation.due_on, Obligation.key)  # type: ignore[arg-type]
    ).all()
    return CampaignPublic(
        **_summary(campaign, township).model_dump(),
        warnings=campaign.calendar_warnings,
        stages=[
            StagePublic(
                key=s.key, name=s.name, seq=s.seq, opens_on=s.opens_on, closes_on=s.closes_on,
                gate=s.gate_key, status=s.status,
            )
            for s in stages
        ],
        obligations=[
            ObligationPublic(
                id=o.id or 0, key=o.key, kind=o.kind, title=o.title, stage=stage_keys.get(o.stage_id),
                subject=subject.code, subject_name=subject.name, period=o.period, opens_on=o.opens_on,
                nominal_due_on=o.nominal_due_on, due_on=o.due_on, status=o.status,
            )
            for o, subject in obligations
        ],
    )


@router.post("", status_code=201, response_model=CampaignPublic, summary="Launch one township's campaign", responses=WRITE)
async def create_campaign(
    body: LaunchRequest,
    session: SessionDep,
    clock: ClockDep,
    principal: CurrentPrincipal,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> CampaignPublic:
    principal.require_role("admin")
    definition = get_definition_for_body(body.definition)
    check_year(definition, body.year)
    idempotency = (idempotency_key, request_hash(body.model_dump())) if idempotency_key else None
    result = await launch_campaign(body.definition, body.township, body.year, now=clock.now(), idempotency=idempotency)
    campaign_id = result["campaign_id"]
    if result["status"] == "exists":
        raise Conflict(result["detail"], campaign_id=campaign_id)
    response.headers["Location"] = f"/api/v1/campaigns/{campaign_id}"
    if result["status"] == "replayed":
        response.headers["Idempotent-Replayed"] = "true"
    session.expire_all()
    return campaign_public(session, campaign_id)


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
    items = await launch_for_townships(body.definition, body.year, townships=body.townships, now=clock.now())
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
    session: SessionDep,
    principal: CurrentPrincipal,
    township: Annotated[CleanStr | None, Query(max_length=32)] = None,
    year: Annotated[int | None, Query(ge=1900, le=2200)] = None,
    definition: Annotated[CleanStr | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[DbOffset, Query()] = 0,
) -> dict[str, Any]:
    stmt = select(Campaign, OrgUnit).join(OrgUnit, Campaign.township_id == OrgUnit.id)  # type: ignore[arg-type]
    count = select(func.count()).select_from(Campaign).join(OrgUnit, Campaign.township_id == OrgUnit.id)  # type: ignore[arg-type]
    filters: list[Any] = []
    if principal.townships is not None:
        filters.append(Campaign.township_id.in_(principal.townships))  # type: ignore[attr-defined]
    if township is not None:
        filters.append(OrgUnit.code == township)
    if year is not None:
        filters.append(Campaign.year == year)
    if definition is not None:
        filters.append(Campaign.definition_key == definition)
    for f in filters:
        stmt, count = stmt.where(f), count.where(f)
    total = session.exec(count).one()
    rows = session.exec(stmt.order_by(Campaign.id).limit(limit).offset(offset)).all()  # type: ignore[arg-type]
    return {
        "items": [_summary(c, t).model_dump(mode="json") for c, t in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get("/{campaign_id}", response_model=CampaignPublic, summary="One campaign with its stages and deadlines")
def read_campaign(campaign_id: DbId, session: SessionDep, principal: CurrentPrincipal) -> CampaignPublic:
    return campaign_public(session, campaign_id, principal)
