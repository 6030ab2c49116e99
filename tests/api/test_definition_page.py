"""The page of one definition, ``/admin/definitions/{key}`` (issue 19), through the ASGI app: the diagram and the
versions, a publish refused at the line it comes from and one accepted, the diff in Chinese, the preview's
timeline, the move of running campaigns previewed then applied; the display names of the newest version on the
home page, the dashboard and the launch page; the 督办 desk's containers kept off the list."""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.clock import FakeClock
from models import Campaign
from tests.support.clock import at
from tests.support.review_chain import API, Users, launch, move
from tests.support.versions import DEFINITION, shipped_source, v2_source
from tests.support.web import WebUser, web_sign_in

PAGE = f"/admin/definitions/{DEFINITION}"


def _text(response: httpx.Response) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", response.text))


async def _post(c: httpx.AsyncClient, who: WebUser, path: str, **fields: str | list[str]) -> httpx.Response:
    c.cookies.clear()
    return await c.post(path, data={**fields, "csrf_token": who.csrf}, headers=who.headers)


async def test_the_page_publishes_compares_previews_and_migrates(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    await move(clock, users, at(dt.date(2024, 12, 20)))
    for code in ("QX01", "QX02"):
        await launch(anon, users, DEFINITION, 2025, township=code)
    admin = await web_sign_in(anon, "admin")
    page = await anon.get(PAGE, headers=admin.headers)
    assert page.status_code == 200, page.text
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page.text and "流程图" in page.text
    assert "第1版" in _text(page) and "随程序发布" in _text(page)

    broken = shipped_source().replace("    closes: {month: 1, day: 8}\n", "    closes: {month: 1, day: 88}\n")
    line = broken.splitlines().index("    closes: {month: 1, day: 88}") + 1
    refused = await _post(anon, admin, f"{PAGE}/publish", source=broken, note="写错的日期")
    assert refused.status_code == 422
    assert f"第{line}行" in _text(refused) and f'id="line-{line}" class="source-error"' in refused.text

    ok = await _post(anon, admin, f"{PAGE}/publish", source=v2_source(), note="县委基层办2025年1号通知")
    assert ok.status_code == 303 and ok.headers["location"] == PAGE
    page = await anon.get(f"{PAGE}?from=1&to=2", headers=admin.headers)
    text = _text(page)
    assert "第2版" in text and "县委基层办2025年1号通知" in text and "县委组织部组织科" in text
    assert "新增： midyear_report" in text and "修改： cadres_on_site （截止日期规则）" in text

    preview = await _post(anon, admin, f"{PAGE}/preview", source=v2_source(), year="2025", township="QX01")
    assert preview.status_code == 200, preview.text
    assert 'class="timeline"' in preview.text and "驻村工作半年情况报告" in _text(preview)
    assert "2025年1月15日" in _text(preview)

    previewed = await _post(anon, admin, f"{PAGE}/migrate", to_version="2", townships=["QX01"], apply="0")
    assert previewed.status_code == 200 and "预览（尚未执行）：共 1 个督办任务" in _text(previewed)
    applied = await _post(anon, admin, f"{PAGE}/migrate", to_version="2", townships=["QX01"], apply="1")
    assert "已执行：共 1 个督办任务" in _text(applied) and "已迁移" in _text(applied)
    with Session(demo_county) as s:
        versions = {c.township_id: c.definition_version for c in s.exec(select(Campaign))}
    assert sorted(versions.values()) == [1, 2]


async def test_the_forms_refuse_what_is_wrong_without_a_500(
        anon: httpx.AsyncClient, users: Users, demo_county: Engine) -> None:
    admin = await web_sign_in(anon, "admin")
    no_year = await _post(anon, admin, f"{PAGE}/preview", source=shipped_source(), year="", township="QX01")
    assert no_year.status_code == 422 and "请填写年度" in _text(no_year)
    nowhere = await _post(anon, admin, f"{PAGE}/preview", source=shipped_source(), year="2025", township="QX99")
    assert nowhere.status_code == 422 and "QX99" in _text(nowhere)
    no_note = await _post(anon, admin, f"{PAGE}/publish", source=shipped_source(), note="")
    assert no_note.status_code == 422 and "版本说明" in _text(no_note)
    bad_year = await _post(anon, admin, f"{PAGE}/migrate", to_version="1", year="二〇二五")
    assert bad_year.status_code == 422 and "年度请填写数字" in _text(bad_year)
    unknown = await _post(anon, admin, f"{PAGE}/migrate", to_version="9")
    assert unknown.status_code == 422 and "第 9 版" in _text(unknown)
    assert (await anon.get("/admin/definitions/no_such_thing", headers=admin.headers)).status_code == 404
    liaison = await web_sign_in(anon, "qx01-liaison")
    assert (await anon.get(PAGE, headers=liaison.headers)).status_code == 403


async def test_names_come_from_the_newest_version_and_desk_containers_are_not_listed(
        anon: httpx.AsyncClient, users: Users, clock: FakeClock, demo_county: Engine) -> None:
    await move(clock, users, at(dt.date(2024, 12, 20)))
    await launch(anon, users, DEFINITION, 2025, township="QX01")
    renamed = v2_source().replace("name: 干部下基层驻农村\n", "name: 干部驻村工作（2025年修订）\n", 1)
    r = await anon.post(f"{API}/definitions/{DEFINITION}/versions", headers=await users("admin"),
                        json={"source": renamed, "note": "改名"})
    assert r.status_code == 201, r.text
    admin = await web_sign_in(anon, "admin")
    for path in ("/", f"/dashboard?definition={DEFINITION}&year=2025", "/admin/launch", "/admin/definitions"):
        page = await anon.get(path, headers=admin.headers)
        assert page.status_code == 200, (path, page.text[:300])
        assert "干部驻村工作（2025年修订）" in page.text, path
    listing = await anon.get("/admin/definitions", headers=admin.headers)
    assert "supervision_desk" not in listing.text and "weak_village_rectification" in listing.text


async def test_the_preview_form_shows_the_dry_run_summary(anon: httpx.AsyncClient, users: Users,
                                                          demo_county: Engine) -> None:
    template = (Path(__file__).resolve().parents[2] / "examples" / "definition-template.yaml").read_text(encoding="utf-8")
    admin = await web_sign_in(anon, "admin")
    page = await _post(anon, admin, "/admin/definitions/weak_village_rectification/preview", source=template,
                       year="2027", township="QX01", simulate="on", profile="never")
    assert page.status_code == 200, page.text[:500]
    text = _text(page)
    assert "试运行（2027-03-01 至 2027-12-31，从不报送" in text and "报送通知" in text and "合计" in text
    assert "1. 催办" in text and "3. 约谈" in text and "正式数据未作任何改动" in text
