"""Campaign definitions: read them, publish and retire versions, compare versions, migrate running campaigns."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ClockDep, CurrentPrincipal, SessionDep
from api.routes.problems import READ, WRITE
from api.types import DB_INT_MAX, DbId
from domain.definitions import Definition
from tasks import definitions as service
from tasks import migration
from tasks.definition_preview import preview_draft
from tasks.registry import definition_version, get_definition, get_definitions, refresh

router = APIRouter(prefix="/api/v1/definitions", tags=["definitions"], responses=READ)


def _summary(key: str) -> dict[str, Any]:
    d = get_definition(key)
    return {
        "key": d.key,
        "name": d.name,
        "version": d.version,
        "description": d.description,
        "sources": d.sources,
        "stages": [{"key": s.key, "name": s.name, "gate": s.gate} for s in d.stages],
        "obligations": [{"key": o.key, "title": o.title, "kind": o.kind} for o in d.obligations],
    }


@router.get("", summary="List campaign definitions (the newest version of each)")
def list_definitions(session: SessionDep, _: CurrentPrincipal) -> list[dict[str, Any]]:
    refresh(session)
    return [_summary(key) for key in sorted(get_definitions())]


@router.get("/schema", summary="The JSON Schema of a definition's YAML, for editors that validate as one types")
def definition_schema(_: CurrentPrincipal) -> dict[str, Any]:
    return Definition.model_json_schema()


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, max_length=1_000_000, description="the draft's YAML")
    year: int = Field(ge=1900, le=2200, description="the campaign year to plan")
    township: str = Field(min_length=1, max_length=32, description="a township's code")
    simulate: bool = Field(default=True, description="also dry-run the year for the township (takes a while)")
    profile: Literal["on_time", "late", "never", "hollow"] = Field(
        default="late", description="how the simulated township behaves in the dry run")


@router.post("/preview", summary="What a draft definition would do, before publishing (administrators)",
             responses=WRITE)
def preview_definition(body: PreviewRequest, session: SessionDep, clock: ClockDep,
                       principal: CurrentPrincipal) -> dict[str, Any]:
    """Validates the draft, then its stages and every deadline (effective date after 调休, reminder days, the
    ladder's dates if missed) for the year and township, the calendar warnings, and a one-township dry run of the
    year on the virtual clock in a throwaway database. Nothing is written."""
    preview = preview_draft(session, principal, clock.now(), body.source, body.year, body.township,
                            simulate=body.simulate, profile=body.profile)
    return preview.public()


@router.get("/{key}", summary="One campaign definition in full")
def read_definition(key: str, session: SessionDep, _: CurrentPrincipal,
                    version: Annotated[int | None, Query(ge=1, le=DB_INT_MAX, description="a published version; the newest if omitted")] = None,
                    ) -> dict[str, Any]:
    refresh(session)
    definition = definition_version(key, version, session) if version else get_definition(key)
    return definition.model_dump(mode="json")


# ---- versions: publish, retire, list, diff; migrating running campaigns (issue 19) ----------------------------


class PublishRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, max_length=1_000_000, description="the definition's YAML")
    note: str = Field(default="", max_length=500, description="what changed and on which notice")


class MigrationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to_version: int = Field(ge=1, le=DB_INT_MAX)
    campaign_ids: list[DbId] | None = Field(default=None, max_length=10_000)
    townships: list[str] | None = Field(default=None, max_length=1_000)
    year: int | None = Field(default=None, ge=1900, le=2200)
    apply: bool = Field(default=False, description="false: preview only, nothing is written")


@router.get("/{key}/versions", summary="Every published version of a definition")
def list_versions(key: str, session: SessionDep, clock: ClockDep, _: CurrentPrincipal) -> list[dict[str, Any]]:
    return service.versions(session, clock.now(), key)


@router.post("/{key}/versions", summary="Publish a new version of a definition (administrators)", status_code=201,
             responses=WRITE)
def publish_version(key: str, body: PublishRequest, session: SessionDep, clock: ClockDep,
                    principal: CurrentPrincipal) -> dict[str, Any]:
    row = service.publish(session, principal, clock.now(), key, body.source, body.note)
    session.commit()
    return {"key": row.key, "version": row.version, "note": row.note, "published_at": row.published_at}


@router.post("/{key}/retire", summary="Retire a definition: no new launches (administrators)", responses=WRITE)
def retire_definition(key: str, session: SessionDep, clock: ClockDep, principal: CurrentPrincipal) -> dict[str, Any]:
    row = service.retire(session, principal, clock.now(), key)
    session.commit()
    return {"key": row.key, "version": row.version, "retired_at": row.retired_at}


@router.get("/{key}/diff", summary="What one version of a definition changes from another")
def diff_versions(key: str, session: SessionDep, clock: ClockDep, _: CurrentPrincipal,
                  old: Annotated[int | None, Query(alias="from", ge=1, le=DB_INT_MAX, description="default: the version before `to`")] = None,
                  new: Annotated[int | None, Query(alias="to", ge=1, le=DB_INT_MAX, description="default: the newest")] = None) -> dict[str, Any]:
    get_definition(key)  # an unknown key: 404
    new = new or service.newest_version(session, key)
    old = old or max(new - 1, 1)
    sections = service.diff(session, clock.now(), key, old, new)
    return {"key": key, "from": old, "to": new, "sections": [asdict(s) for s in sections]}


@router.post("/{key}/migrations", summary="Preview or apply moving running campaigns to a newer version (administrators)",
             responses=WRITE)
def migrate_campaigns(key: str, body: MigrationRequest, session: SessionDep, clock: ClockDep,
                      principal: CurrentPrincipal) -> dict[str, Any]:
    results = migration.migrate(session, principal, clock.now(), key, body.to_version, campaign_ids=body.campaign_ids,
                                townships=body.townships, year=body.year, apply=body.apply)
    return {"key": key, "to_version": body.to_version, "applied": body.apply,
            "campaigns": [m.public() for m in results], "refused": sum(1 for m in results if m.refused)}
