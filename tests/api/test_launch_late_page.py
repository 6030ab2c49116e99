"""The launch page's choice for deadlines already past: previewed, carried to the confirmation, said in the message."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

import flows.launch as launch_flows
from core.clock import CHINA_TZ, FakeClock
from models import Obligation
from tests.support.web import HTML, sign_in
from tests.support.world import launch_many_without_prefect, launch_without_prefect

DECEMBER = dt.datetime(2026, 12, 7, 10, tzinfo=CHINA_TZ)


@pytest.fixture
def no_prefect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launch_flows, "launch_campaign", launch_without_prefect)
    monkeypatch.setattr(launch_flows, "launch_for_townships", launch_many_without_prefect)


async def test_the_page_offers_a_catch_up_and_says_what_it_did(anon: httpx.AsyncClient, demo_county: Engine,
                                                                clock: FakeClock, no_prefect: None) -> None:
    clock.set(DECEMBER)
    csrf = await sign_in(anon, "admin")
    page = await anon.get("/admin/launch", headers=HTML)
    assert "启动前已过的截止日期" in page.text and 'value="catch_up"' in page.text and "限期补报" in page.text
    form = {"csrf_token": csrf, "definition": "weak_village_rectification", "year": "2026", "townships": ["QX02"],
            "late": "catch_up", "catch_up_workdays": "10"}
    preview = await anon.post("/admin/launch/preview", data=form)
    assert preview.status_code == 200, preview.text
    assert "限2026年12月21日前补报" in preview.text
    assert 'name="late" value="catch_up"' in preview.text and 'name="catch_up_workdays" value="10"' in preview.text
    launched = await anon.post("/admin/launch", data=form)
    assert launched.status_code == 303
    shown = await anon.get(launched.headers["location"], headers=HTML)
    assert "启动前已过截止日期的1项（上报相对后进薄弱村党组织名单）：1项限2026年12月21日前补报" in shown.text
    with Session(demo_county) as session:
        row = session.exec(select(Obligation).where(Obligation.rule_key == "weak_village_list")).one()
    assert (row.status, row.due_on) == ("open", dt.date(2026, 12, 21))


async def test_a_bad_choice_on_the_page_is_refused(anon: httpx.AsyncClient, demo_county: Engine, clock: FakeClock,
                                                   no_prefect: None) -> None:
    clock.set(DECEMBER)
    csrf = await sign_in(anon, "admin")
    form = {"csrf_token": csrf, "definition": "weak_village_rectification", "year": "2026", "townships": ["QX02"],
            "late": "catch_up", "catch_up_workdays": "0"}
    refused = await anon.post("/admin/launch/preview", data=form, headers=HTML)
    assert refused.status_code == 422
