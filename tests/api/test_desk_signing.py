"""签收 of campaign deadlines whose definition asks for it (``acknowledge: true``): the tick writes a sign-for
deadline when the window opens, the township signs on the desk, an unsigned one climbs the sign-for ladder."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy.engine import Engine

from core.clock import FakeClock, get_clock
from core.settings import get_settings
from tasks.launch import launch_one
from tests.support.clock import at, days
from tests.support.desk import DESK, desk_escalations
from tests.support.review_chain import move
from tests.support.tick import tick_days
from tests.support.web import page_text, sign_in
from tests.support.world import SignedIn

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def signing_definitions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The shipped definitions, the quarterly report of cadres_in_villages asking to be signed for."""
    target = tmp_path / "definitions"
    shutil.copytree(REPO / "definitions", target)
    path = target / "cadres_in_villages.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    next(o for o in data["obligations"] if o["key"] == "quarterly_report")["acknowledge"] = True
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("DUBAN_DEFINITIONS_DIR", str(target))
    get_settings.cache_clear()
    yield target
    get_settings.cache_clear()


async def test_a_campaign_deadline_is_signed_for_when_its_definition_asks(
        signing_definitions: Path, client: httpx.AsyncClient, users: SignedIn, clock: FakeClock,
        engine: Engine) -> None:
    await move(clock, users, at(dt.date(2025, 3, 3)))
    for township in ("QX01", "QX02"):
        assert launch_one(engine, "cadres_in_villages", township, 2025, get_clock().now()).status == "created"
    tick_days(engine, days(dt.date(2025, 3, 6), dt.date(2025, 3, 7)))  # the Q1 report opens 14 days before 20 March
    await move(clock, users, at(dt.date(2025, 3, 7), 10))
    waiting = (await client.get(f"{DESK}/signing", headers=await users("qx01-liaison"))).json()["items"]
    assert [(w["title"], w["period"], w["due_on"]) for w in waiting] == [
        ("签收：干部下基层驻农村工作季度书面报告", "2025Q1", "2025-03-07")]  # opened 6 March, one working day
    client.headers.pop("Authorization", None)  # the page is read as a signed-in browser
    await sign_in(client, "qx01-liaison")
    page = await page_text(client, "/desk")
    assert "督办活动截止事项待签收" in page and "签收：干部下基层驻农村工作季度书面报告" in page
    r = await client.post(f"{DESK}/signing/{waiting[0]['obligation_id']}/acknowledge", headers=await users("qx01-liaison"))
    assert r.status_code == 200 and r.json()["status"] == "met", r.text
    again = await client.post(f"{DESK}/signing/{waiting[0]['obligation_id']}/acknowledge",
                              headers=await users("qx01-liaison"))
    assert again.status_code == 409
    other = (await client.get(f"{DESK}/signing", headers=await users("qx02-liaison"))).json()["items"]
    outsider = await client.post(f"{DESK}/signing/{other[0]['obligation_id']}/acknowledge",
                                 headers=await users("qx01-liaison"))
    assert outsider.status_code == 404
    tick_days(engine, days(dt.date(2025, 3, 8), dt.date(2025, 3, 11)))
    assert desk_escalations(engine, "QX01") == []
    assert desk_escalations(engine, "QX02") == [("overdue", 1, "催签收"), ("overdue", 2, "督促签收")]
