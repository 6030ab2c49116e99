"""The launch flows run as real Prefect flows and are safe to re-run."""

from __future__ import annotations

import datetime as dt

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from core.clock import CHINA_TZ
from domain.errors import ValidationFailed
from flows.launch import launch_campaign, launch_for_townships
from models import Campaign, Obligation, Stage

NOW = dt.datetime(2025, 1, 2, 9, tzinfo=CHINA_TZ)


def counts(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as s:
        return tuple(  # type: ignore[return-value]
            s.exec(select(func.count()).select_from(t)).one() for t in (Campaign, Stage, Obligation)
        )


async def test_flow_run_is_named_after_definition_township_and_year(demo_county: Engine) -> None:
    result = await launch_campaign("cadres_in_villages", "QX07", 2025, now=NOW)
    assert result["status"] == "created"
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=["launch-cadres_in_villages-QX07-2025"]))
        )
    assert len(runs) >= 1 and runs[0].state is not None and runs[0].state.is_completed()


async def test_rerun_after_success_changes_nothing(demo_county: Engine) -> None:
    await launch_campaign("five_good_model_site", "QX08", 2025, now=NOW)
    before = counts(demo_county)
    again = await launch_campaign("five_good_model_site", "QX08", 2025, now=NOW)
    assert again["status"] == "exists" and "已经启动" in again["detail"]
    assert counts(demo_county) == before


async def test_invalid_input_fails_the_flow_without_retrying(demo_county: Engine) -> None:
    with pytest.raises(ValidationFailed, match="XX99"):
        await launch_campaign("five_good_model_site", "XX99", 2025, now=NOW)
    assert counts(demo_county) == (0, 0, 0)


async def test_batch_in_chunks_then_rerun(demo_county: Engine) -> None:
    ticks: list[int] = []
    items = await launch_for_townships("weak_village_rectification", 2025, now=NOW, chunk_size=5, progress=ticks.append)
    assert ticks == [5, 5, 2]
    assert [i["status"] for i in items] == ["created"] * 12
    before = counts(demo_county)
    again = await launch_for_townships("weak_village_rectification", 2025, now=NOW, chunk_size=5)
    assert [i["status"] for i in again] == ["exists"] * 12
    assert counts(demo_county) == before
