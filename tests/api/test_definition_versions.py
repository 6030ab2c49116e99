"""Issue 19 through the public API: publish version 2 of a shipped definition (a moved deadline, one more report),
compare it, preview the move of running campaigns, move half of them, and check that each campaign reminds,
escalates and reports by its own version, with nothing lost; a refused move and the permissions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.clock import FakeClock
from models import AuditEvent, Escalation, ReminderLog
from tests.support.clock import at, days
from tests.support.review_chain import API, Users, launch, move
from tests.support.tick import tick_days
from tests.support.versions import DEFINITION, v2_source

TOWNSHIPS = ("QX01", "QX02", "QX03", "QX04")


async def _running(c: httpx.AsyncClient, users: Users, clock: FakeClock) -> dict[str, dict[str, Any]]:
    await move(clock, users, at(dt.date(2024, 12, 20)))
    return {code: await launch(c, users, DEFINITION, 2025, township=code) for code in TOWNSHIPS}


def _due(campaign: dict[str, Any], rule: str) -> list[str]:
    return [o["due_on"] for o in campaign["obligations"] if o["key"].split(":")[0] == rule]


async def test_a_new_version_is_published_previewed_and_half_the_campaigns_move_to_it(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    c, admin = anon, await users("admin")
    campaigns = await _running(c, users, clock)
    r = await c.post(f"{API}/definitions/{DEFINITION}/versions", headers=admin,
                     json={"source": v2_source(), "note": "县委基层办2025年1号通知：到位时间推迟至1月15日，增报半年报告"})
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 2
    versions = (await c.get(f"{API}/definitions/{DEFINITION}/versions", headers=admin)).json()
    assert [(v["version"], v["published_by"]) for v in versions] == [(1, None), (2, "县委组织部组织科")]
    diff = (await c.get(f"{API}/definitions/{DEFINITION}/diff", headers=admin)).json()
    sections = {s["name"]: s for s in diff["sections"]}
    assert sections["截止事项"]["added"] == ["midyear_report"]
    assert sections["截止事项"]["changed"] == {"cadres_on_site": ["截止日期规则"]}
    assert sections["阶段"]["changed"] == {"deploy": ["结束日期"], "stationed": ["开始日期"]}

    half = [campaigns["QX01"]["id"], campaigns["QX02"]["id"]]
    preview = await c.post(f"{API}/definitions/{DEFINITION}/migrations", headers=admin,
                           json={"to_version": 2, "campaign_ids": half})
    assert preview.status_code == 200, preview.text
    for m in preview.json()["campaigns"]:
        assert m["refused"] == [] and not m["applied"]
        assert [(x["key"].split(":")[0], x["due_on"], x["new_due_on"]) for x in m["moved"]] == \
            [("cadres_on_site", "2025-01-08", "2025-01-15")]
        assert [x["title"] for x in m["added"]] == ["驻村工作半年情况报告"]
    unchanged = (await c.get(f"{API}/campaigns/{half[0]}", headers=admin)).json()
    assert unchanged["definition_version"] == 1 and _due(unchanged, "cadres_on_site") == ["2025-01-08"]

    applied = await c.post(f"{API}/definitions/{DEFINITION}/migrations", headers=admin,
                           json={"to_version": 2, "campaign_ids": half, "apply": True})
    assert [m["applied"] for m in applied.json()["campaigns"]] == [True, True]
    read = {code: (await c.get(f"{API}/campaigns/{campaign['id']}", headers=admin)).json()
            for code, campaign in campaigns.items()}
    for code in ("QX01", "QX02"):
        assert read[code]["definition_version"] == 2
        assert _due(read[code], "cadres_on_site") == ["2025-01-15"]
        assert _due(read[code], "midyear_report") == ["2025-07-10"]
        assert len(read[code]["obligations"]) == len(campaigns[code]["obligations"]) + 1  # nothing lost
    for code in ("QX03", "QX04"):
        assert read[code]["definition_version"] == 1
        assert _due(read[code], "cadres_on_site") == ["2025-01-08"] and _due(read[code], "midyear_report") == []
    # A new launch takes the newest version.
    fresh = await launch(c, users, DEFINITION, 2025, township="QX05")
    assert fresh["definition_version"] == 2

    # January: the unmigrated campaigns remind towards the 8th and escalate after it; the migrated ones wait for the 15th.
    tick_days(demo_county, days(dt.date(2025, 1, 2), dt.date(2025, 1, 13)))
    by_campaign = _escalated_and_reminded(demo_county, {code: read[code]["id"] for code in TOWNSHIPS})
    for code in ("QX03", "QX04"):  # QX04 has no liaison account to remind
        escalated, reminded = by_campaign[code]
        assert escalated and (code == "QX04" or min(reminded) <= dt.date(2025, 1, 8))
    for code in ("QX01", "QX02"):
        escalated, reminded = by_campaign[code]
        assert not escalated
        assert reminded and all(day >= dt.date(2025, 1, 6) for day in reminded)  # 7 workdays before the 15th
    tick_days(demo_county, days(dt.date(2025, 1, 14), dt.date(2025, 1, 20)))
    assert all(_escalated_and_reminded(demo_county, {code: read[code]["id"]})[code][0] for code in ("QX01", "QX02"))

    with Session(demo_county) as session:
        moves = session.exec(select(AuditEvent).where(col(AuditEvent.action) == "campaign.migrate")).all()
        assert sorted(e.subject_id for e in moves) == sorted(half)


def _escalated_and_reminded(engine: Engine, ids: dict[str, int]) -> dict[str, tuple[bool, list[dt.date]]]:
    """Per township: whether its cadres-on-site deadline escalated, and the days it was reminded of."""
    from models import Obligation

    out = {}
    with Session(engine) as session:
        for code, campaign_id in ids.items():
            [ob] = session.exec(select(Obligation).where(col(Obligation.campaign_id) == campaign_id,
                                                         col(Obligation.rule_key) == "cadres_on_site")).all()
            escalated = session.exec(select(Escalation).where(col(Escalation.obligation_id) == ob.id)).first()
            reminded = sorted({r.remind_on for r in session.exec(select(ReminderLog).where(
                col(ReminderLog.obligation_id) == ob.id, col(ReminderLog.offset) >= 0))})
            out[code] = (escalated is not None, reminded)
    return out


async def test_a_move_that_would_orphan_a_deadline_is_refused_with_the_reason(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    c, admin = anon, await users("admin")
    await move(clock, users, at(dt.date(2025, 1, 3)))
    campaign = await launch(c, users, DEFINITION, 2025, township="QX01")  # cadres_on_site is open now
    source = v2_source()
    start = source.index("  - key: cadres_on_site\n    title: 首批驻村干部到位")
    end = source.index("  - key: quarterly_report", start)
    without = source[:start] + source[end:]
    r = await c.post(f"{API}/definitions/{DEFINITION}/versions", headers=admin,
                     json={"source": without, "note": "取消到位报告"})
    assert r.status_code == 201, r.text
    applied = await c.post(f"{API}/definitions/{DEFINITION}/migrations", headers=admin,
                           json={"to_version": 2, "year": 2025, "apply": True})
    [m] = applied.json()["campaigns"]
    assert not m["applied"] and "首批驻村干部到位" in m["refused"][0], (m["removed"], m["refused"], campaign["obligations"][0]["status"])
    after = (await c.get(f"{API}/campaigns/{campaign['id']}", headers=admin)).json()
    assert after["definition_version"] == 1 and after["obligations"] == campaign["obligations"]


async def test_publishing_is_for_administrators_and_validates_like_the_loader(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    c = anon
    r = await c.post(f"{API}/definitions/{DEFINITION}/versions", headers=await users("county-reviewer"),
                     json={"source": v2_source(), "note": "x"})
    assert r.status_code == 403
    bad = v2_source().replace("    closes: {month: 1, day: 15}\n", "    closes: {month: 13, day: 15}\n")
    r = await c.post(f"{API}/definitions/{DEFINITION}/versions", headers=await users("admin"),
                     json={"source": bad, "note": "错误的月份"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert "stages[0].closes" in r.text
    r = await c.post(f"{API}/definitions/{DEFINITION}/versions", headers=await users("admin"),
                     json={"source": "key: [unclosed", "note": "坏的 YAML"})
    assert r.status_code == 422 and "line" in r.text
    r = await c.post(f"{API}/definitions/{DEFINITION}/retire", headers=await users("admin"))
    assert r.status_code == 200, r.text
    r = await c.post(f"{API}/campaigns", headers=await users("admin"),
                     json={"definition": DEFINITION, "township": "QX01", "year": 2025})
    assert r.status_code == 409 and "已停用" in r.json()["detail"]
    schema = (await c.get(f"{API}/definitions/schema", headers=await users("observer"))).json()
    assert "stages" in schema["properties"]
