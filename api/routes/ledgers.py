"""Ledgers (台账): lists as Excel workbooks, and the org hierarchy and 一村一策 plans imported from Excel."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Query, Response, UploadFile

from api.deps import ClockDep, CurrentPrincipal, SessionDep
from api.routes.problems import READ, UPLOAD, WRITE
from api.types import CleanStr, DbId
from tasks import ledger as service

router = APIRouter(prefix="/api/v1/ledgers", tags=["ledgers"], responses=READ)

XLSX_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {service.XLSX_MEDIA_TYPE: {}}, "description": "the workbook (one sheet, a header row, one row per item)"},
}


def content_disposition(filename: str, fallback: str) -> str:
    """An attachment with a Chinese file name (RFC 5987 ``filename*``) and an ASCII fallback."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


def xlsx_response(content: bytes, filename: str, fallback: str) -> Response:
    return Response(content, media_type=service.XLSX_MEDIA_TYPE, headers={
        "Content-Disposition": content_disposition(filename, fallback),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    })


async def read_upload(file: UploadFile) -> bytes:
    """The uploaded bytes, reading at most one byte past the limit (the task answers 413 for that)."""
    return await file.read(service.MAX_UPLOAD_BYTES + 1)


@router.get("/{name}.xlsx", response_class=Response, responses=XLSX_RESPONSE,
            summary="A ledger as an Excel workbook: campaigns, obligations, rectifications or escalations")
def export_ledger(
    name: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    clock: ClockDep,
    township: Annotated[CleanStr | None, Query(max_length=32, description="township code")] = None,
    year: Annotated[int | None, Query(ge=1900, le=2200, description="campaign year")] = None,
    definition: Annotated[CleanStr | None, Query(max_length=64, description="definition key")] = None,
    campaign: Annotated[DbId | None, Query(description="campaign id")] = None,
    status: Annotated[CleanStr | None, Query(max_length=16, description="status code of the listed items")] = None,
) -> Response:
    """The same rows, with the same filters and the same township scope, as the matching JSON list:
    ``campaigns`` ↔ ``GET /campaigns``; ``obligations`` ↔ the deadlines of those campaigns;
    ``rectifications`` ↔ ``GET /rectifications`` joined with each village's 一村一策 plan; ``escalations``."""
    filters = service.LedgerFilters(township=township, year=year, definition=definition, campaign=campaign,
                                    status=status)
    content, filename = service.export_ledger(session, principal, name, filters, clock.now())
    suffix = filename.rsplit("-", 1)[-1]
    return xlsx_response(content, filename, f"duban-{name}-{suffix}")


@router.post("/org-units", summary="Import the org hierarchy from .xlsx (administrators; all rows or none)", responses=WRITE | UPLOAD)
async def import_org_units(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                           file: Annotated[UploadFile, File(description="columns code, name, kind, parent, "
                                                            "collective_income, key_contact_class")]) -> dict[str, Any]:
    principal.require_role("admin")
    content = await read_upload(file)
    result = service.import_org_units_xlsx(session, principal, clock.now(), content, file.filename)
    session.commit()
    return result


PeopleFile = Annotated[UploadFile, File(description="cadres: 编码, 姓名, 派出单位编码, 职务, 联系电话; "
                                                   "leaders: 编码, 姓名, 级别, 职务, 联系电话, 联系村编码")]


async def _import_people(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep, what: str,
                         file: UploadFile) -> dict[str, Any]:
    principal.require_role("admin")
    content = await read_upload(file)
    result = service.import_people_xlsx(session, principal, clock.now(), what, content, file.filename)
    session.commit()
    return result


@router.post("/cadres", summary="Import cadres (驻村干部) from .xlsx (administrators; all rows or none)", responses=WRITE | UPLOAD)
async def import_cadres(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                        file: PeopleFile) -> dict[str, Any]:
    return await _import_people(session, principal, clock, "cadre", file)


@router.post("/leaders", summary="Import leaders (挂点领导) from .xlsx (administrators; all rows or none)", responses=WRITE | UPLOAD)
async def import_leaders(session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
                         file: PeopleFile) -> dict[str, Any]:
    return await _import_people(session, principal, clock, "leader", file)


@router.post("/rectification-plans", summary="Import 一村一策 plans of a campaign from .xlsx (one row per village)", responses=WRITE | UPLOAD)
async def import_rectification_plans(
    session: SessionDep, principal: CurrentPrincipal, clock: ClockDep,
    campaign_id: Annotated[DbId, Query(description="the weak-village rectification campaign")],
    file: Annotated[UploadFile, File(description="村编码 or 村名称, then the 一村一策 fields")],
) -> dict[str, Any]:
    """Every row is checked first; any problem answers 422 with ``errors`` = [{row, column, message}] and
    nothing is written. Otherwise each village's draft is created or updated."""
    content = await read_upload(file)
    result = service.import_rectification_plans_xlsx(session, principal, clock.now(), campaign_id, content,
                                                     file.filename)
    session.commit()
    return result
