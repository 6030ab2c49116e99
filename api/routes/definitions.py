"""Campaign definitions (read-only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import CurrentPrincipal
from api.routes.problems import READ
from tasks.registry import get_definition, get_definitions

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


@router.get("", summary="List campaign definitions")
def list_definitions(_: CurrentPrincipal) -> list[dict[str, Any]]:
    return [_summary(key) for key in sorted(get_definitions())]


@router.get("/{key}", summary="One campaign definition in full")
def read_definition(key: str, _: CurrentPrincipal) -> dict[str, Any]:
    return get_definition(key).model_dump(mode="json")
