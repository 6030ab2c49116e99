"""The campaign page as a clerk reads it: the stages on the official calendar (today marked, holidays shaded), then
the deadlines grouped by stage and village, those needing action first, each linking to its submission, reminders
and escalations (issue 17 item 4)."""

from __future__ import annotations

import datetime as dt
import re

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.clock import CHINA_TZ, FakeClock
from models import Escalation, Obligation, Submission
from tasks.launch import launch_one
from tests.support.tick import tick_days
from tests.support.web import HTML, sign_in

LAUNCHED = dt.datetime(2025, 9, 1, 9, tzinfo=CHINA_TZ)
LOOKED = dt.datetime(2025, 10, 20, 10, tzinfo=CHINA_TZ)


def _rectification(engine: Engine, clock: FakeClock) -> int:
    clock.set(LAUNCHED)
    campaign_id = launch_one(engine, "weak_village_rectification", "QX01", 2025, LAUNCHED).campaign_id
    tick_days(engine, [dt.date(2025, 9, 1) + dt.timedelta(days=n) for n in range(50)])
    clock.set(LOOKED)
    return campaign_id


async def test_the_campaign_page_draws_the_stages_on_the_calendar(anon: httpx.AsyncClient, demo_county: Engine,
                                                                  clock: FakeClock) -> None:
    campaign_id = _rectification(demo_county, clock)
    await sign_in(anon, "county-reviewer")
    page = await anon.get(f"/campaigns/{campaign_id}", headers=HTML)
    assert page.status_code == 200, page.text
    svg = page.text[page.text.index("<svg"):page.text.index("</svg>")]
    assert "今天" in svg and 'class="today"' in svg
    assert "2025年10月1日至2025年10月8日 法定节假日" in svg  # 国庆节、中秋节
    assert "2025年</text>" in svg and ">9月</text>" in svg and "1. 摸底排查" in svg and 'class="bar st-overdue"' in svg
    assert "https://" not in svg and "http://" not in svg


async def test_deadlines_are_grouped_by_stage_and_village_and_link_their_material(
        anon: httpx.AsyncClient, demo_county: Engine, clock: FakeClock) -> None:
    campaign_id = _rectification(demo_county, clock)
    with Session(demo_county) as session:
        listed = session.exec(select(Obligation).where(Obligation.campaign_id == campaign_id,
                                                       Obligation.rule_key == "weak_village_list")).one()
        escalations = session.exec(select(Escalation).where(Escalation.obligation_id == listed.id)).all()
        drafts = session.exec(select(Submission).where(Submission.obligation_id == listed.id)).all()
    assert listed.status == "missed" and escalations and drafts
    await sign_in(anon, "qx01-liaison")
    page = (await anon.get(f"/campaigns/{campaign_id}", headers=HTML)).text
    assert "截止事项（按阶段和村，需要处理的在前）" in page
    screening = page[page.index('id="stage-screening"'):page.index('id="stage-planning"')] \
        if 'id="stage-planning"' in page else page[page.index('id="stage-screening"'):]
    assert "摸底排查" in screening and "青石镇" in screening and "1 项需要处理" in screening
    row = screening[screening.index(f'id="obligation-{listed.id}"'):]
    row = row[:row.index("</tr>")]
    assert 'class="needs-action"' in page[page.index(f'id="obligation-{listed.id}"') - 5:][:80]
    assert f'href="/submissions/{drafts[0].id}"' in row
    assert f'href="/escalations/{escalations[0].id}"' in row
    assert "已催报" in row and "未完成" in row


async def test_open_deadlines_come_before_the_scheduled_ones(anon: httpx.AsyncClient, demo_county: Engine,
                                                             clock: FakeClock) -> None:
    campaign_id = _rectification(demo_county, clock)
    await sign_in(anon, "admin")
    page = (await anon.get(f"/campaigns/{campaign_id}", headers=HTML)).text
    section = page[page.index('id="stage-other"'):] if 'id="stage-other"' in page else page
    statuses = re.findall(r'<td data-label="状态" class="st-(\w+)">', page[page.index('class="deadlines"'):])
    assert statuses, "deadlines are listed"
    for chunk in re.split(r"<details", section)[1:]:
        ranks = [0 if s in ("open", "missed", "submitted") else 1 if s == "scheduled" else 2
                 for s in re.findall(r'<td data-label="状态" class="st-(\w+)">', chunk)]
        assert ranks == sorted(ranks)


async def test_a_campaign_of_another_township_is_not_found(anon: httpx.AsyncClient, demo_county: Engine,
                                                           clock: FakeClock) -> None:
    campaign_id = _rectification(demo_county, clock)
    await sign_in(anon, "qx02-liaison")
    assert (await anon.get(f"/campaigns/{campaign_id}", headers=HTML)).status_code == 404
