"""Every decision on a row someone else changed meanwhile answers with the same 409: problem+json with
``errors: [{field: version, message: stale}]`` and the row's ``current_version``; one without a version is a
422; neither writes anything (not the row, not an audit event, not a mail)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col

from core.clock import FakeClock
from models import AccountabilityCase, Escalation, Submission, VillageRectification
from tests.support.databases import changed_tables, db_snapshot
from tests.support.qx02 import World, approve_list, build_world
from tests.support.statuses import assert_every_status_is_known


@pytest.fixture
async def world(anon: httpx.AsyncClient, login: Any, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> World:
    return await build_world(anon, login, clock, monkeypatch)


@dataclass(frozen=True)
class Decision:
    path: str  # with {id}
    target: str  # key into World.ids
    table: type[SQLModel]
    username: str
    body: dict[str, Any]


DECISIONS = {
    "submission decision": Decision("/api/v1/submissions/{id}/decisions", "quarterly", Submission, "qx02-secretary",
                                    {"decision": "approve"}),
    "escalation action": Decision("/api/v1/escalations/{id}/dismiss", "escalation", Escalation, "admin",
                                  {"note": "经核实已整改到位"}),
    "case decision": Decision("/api/v1/cases/{id}/decision", "case", AccountabilityCase, "admin",
                              {"decision": "admonishment", "note": "对镇党委书记诫勉谈话"}),
    "rectification action": Decision("/api/v1/rectifications/{id}/actions", "rectification", VillageRectification,
                                     "qx02-liaison", {"action": "apply"}),
}


def _version(engine: Engine, table: Any, row_id: int) -> int:
    with Session(engine) as s:
        row = s.get(table, row_id)
        assert row is not None
        return int(row.version)


def _changed_meanwhile(engine: Engine, table: Any, row_id: int) -> int:
    """Somebody else's decision: the row moves on to the next version. Returns the version the client read."""
    read = _version(engine, table, row_id)
    with Session(engine) as s:
        s.execute(update(table).where(col(table.id) == row_id).values(version=table.version + 1))
        s.commit()
    return read


async def _send(w: World, decision: Decision, body: dict[str, Any]) -> httpx.Response:
    path = decision.path.format(id=w.ids[decision.target])
    return await w.client.post(path, json=body, headers=await w.as_(decision.username))


async def _snapshot(w: World, engine: Engine, decision: Decision) -> dict[str, list[str]]:
    await w.as_(decision.username)  # signed in before: a first sign-in writes its token
    return db_snapshot(engine)


async def test_every_stale_decision_is_the_same_409(world: World, demo_county: Engine) -> None:
    await approve_list(world)
    answers: dict[str, dict[str, Any]] = {}
    for kind, decision in DECISIONS.items():
        row_id = world.ids[decision.target]
        read = _changed_meanwhile(demo_county, decision.table, row_id)
        before = await _snapshot(world, demo_county, decision)
        response = await _send(world, decision, decision.body | {"version": read})
        assert response.status_code == 409, (kind, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        answers[kind] = response.json()
        assert answers[kind]["current_version"] == read + 1, kind
        assert "请刷新后重试" in answers[kind]["detail"] and f"当前版本号为 {read + 1}" in answers[kind]["detail"]
        assert changed_tables(before, db_snapshot(demo_county)) == [], kind

        fresh = await _send(world, decision, decision.body | {"version": read + 1})
        assert fresh.status_code in (200, 201), (kind, fresh.text)  # the refreshed version goes through

    shapes = {kind: {k: v for k, v in body.items() if k not in ("detail", "current_version")}
              for kind, body in answers.items()}
    assert all(shape == {"type": "/problems/stale-version", "title": "版本已过期", "status": 409,
                         "errors": [{"field": "version", "message": "stale"}]} for shape in shapes.values()), shapes
    assert all(set(body) == {"type", "title", "status", "detail", "errors", "current_version"}
               for body in answers.values())
    assert_every_status_is_known(demo_county)


@pytest.mark.parametrize("kind", list(DECISIONS))
async def test_a_decision_without_a_version_is_a_422(world: World, demo_county: Engine, kind: str) -> None:
    decision = DECISIONS[kind]
    if decision.target == "rectification":
        await approve_list(world)
    version = _version(demo_county, decision.table, world.ids[decision.target])
    before = await _snapshot(world, demo_county, decision)
    response = await _send(world, decision, decision.body)
    assert response.status_code == 422, response.text
    assert {"field": "version", "message": "必填"} in response.json()["errors"]
    assert changed_tables(before, db_snapshot(demo_county)) == []
    assert _version(demo_county, decision.table, world.ids[decision.target]) == version
