"""The zh-CN web UI for each role, over the real app with session cookies and CSRF: launching with a
preview, the dashboard, the manage pages, the township's generated forms and the review queue, and the
permission denials of each (403/404 pages for browsers, login redirects for nobody)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from starlette.datastructures import FormData

import flows.launch as launch_flows
from api.routes.web_forms import field_errors, form_data
from core.clock import CHINA_TZ, FakeClock
from domain.errors import ValidationFailed
from domain.forms import validate_form
from models import Campaign, Escalation, Obligation, OrgUnit, Submission, User
from tasks.launch import launch_one
from tasks.registry import get_definition
from tests.support.web import HTML, sign_in, version_of
from tests.support.world import launch_many_without_prefect, launch_without_prefect

DEC_10 = dt.datetime(2025, 12, 10, 9, tzinfo=CHINA_TZ)
REPORT = {"f_basic_situation": "青石镇共有后进薄弱村2个。", "f_results": "完成班子调整1个。",
          "f_main_problems": "集体经济薄弱。", "f_next_steps": "加强培训。"}


@pytest.fixture
def no_prefect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(launch_flows, "launch_campaign", launch_without_prefect)
    monkeypatch.setattr(launch_flows, "launch_for_townships", launch_many_without_prefect)


def _quarterly(engine: Engine, township: str = "QX01", period: str = "2025Q4") -> int:
    with Session(engine) as session:
        row = session.exec(select(Obligation).join(Campaign, Obligation.campaign_id == Campaign.id)  # type: ignore[arg-type]
                           .join(OrgUnit, Campaign.township_id == OrgUnit.id)  # type: ignore[arg-type]
                           .where(OrgUnit.code == township, Obligation.kind == "quarterly_report",
                                  Obligation.period == period)).one()
        return row.id or 0


# ---- administrators ------------------------------------------------------------------------------------


async def test_admin_launches_with_a_preview_then_confirms(anon: httpx.AsyncClient, demo_county: Engine, clock: FakeClock,
                                                           no_prefect: None) -> None:
    clock.set(DEC_10)
    csrf = await sign_in(anon, "admin")
    page = await anon.get("/admin/launch", headers=HTML)
    assert page.status_code == 200
    assert '<label for="definition">督办定义</label>' in page.text and "青石镇" in page.text and 'value="2025"' in page.text

    # Nothing chosen: the errors stand next to the fields, nothing is launched.
    bad = await anon.post("/admin/launch/preview", data={"csrf_token": csrf, "definition": "", "year": "abc"})
    assert bad.status_code == 422
    assert "请选择督办定义" in bad.text and "请填写年度" in bad.text and "请至少选择一个乡镇" in bad.text

    form = {"csrf_token": csrf, "definition": "weak_village_rectification", "year": "2025", "townships": ["QX01"]}
    preview = await anon.post("/admin/launch/preview", data=form)
    assert preview.status_code == 200, preview.text
    assert "预览：2025年“后进薄弱村（软弱涣散村）党组织整顿”" in preview.text
    assert "后进薄弱村党组织建设季度报告" in preview.text and "2025年12月19日" in preview.text and "确认启动" in preview.text
    with Session(demo_county) as session:
        assert session.exec(select(Campaign)).all() == [], "a preview writes nothing"

    forged = await anon.post("/admin/launch", data=form | {"csrf_token": "forged"}, headers=HTML)
    assert forged.status_code == 403 and "CSRF" in forged.text and "<html" in forged.text
    launched = await anon.post("/admin/launch", data=form)
    assert launched.status_code == 303
    with Session(demo_county) as session:
        campaign = session.exec(select(Campaign)).one()
    assert launched.headers["location"] == f"/campaigns/{campaign.id}"
    shown = await anon.get(launched.headers["location"], headers=HTML)
    assert "已启动 2025年“后进薄弱村（软弱涣散村）党组织整顿”" in shown.text
    assert "已启动" not in (await anon.get(launched.headers["location"], headers=HTML)).text, "a flash is shown once"

    # Again, and for two more townships at once: the launched one is reported, the others are created.
    again = await anon.post("/admin/launch", data=form)
    assert "已经启动" in (await anon.get(again.headers["location"], headers=HTML)).text
    batch = await anon.post("/admin/launch", data=form | {"townships": ["QX01", "QX02", "QX03"]})
    assert batch.status_code == 303 and batch.headers["location"] == "/"
    assert "新启动 2 个乡镇，已启动过 1 个" in (await anon.get("/", headers=HTML)).text
    with Session(demo_county) as session:
        assert len(session.exec(select(Campaign)).all()) == 3


async def test_admin_pages_refuse_other_roles_and_nobody(anon: httpx.AsyncClient, demo_county: Engine, no_prefect: None) -> None:
    pages = ["/admin/launch", "/admin/org-units", "/admin/users", "/admin/calendars", "/admin/definitions"]
    for path in [*pages, "/dashboard", "/reviews"]:
        r = await anon.get(path, headers=HTML)
        assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}", path
    for username in ("qx01-liaison", "qx01-secretary", "county-reviewer", "observer"):
        csrf = await sign_in(anon, username)
        for path in pages:
            r = await anon.get(path, headers=HTML)
            assert r.status_code == 403, (username, path)
            assert "无权访问" in r.text and r.headers["content-type"].startswith("text/html")
        api_style = await anon.get("/admin/launch")
        assert api_style.status_code == 403 and api_style.headers["content-type"].startswith("application/problem+json")
        refused = await anon.post("/admin/launch", data={"csrf_token": csrf, "definition": "weak_village_rectification",
                                                         "year": "2025", "townships": ["QX01"]})
        assert refused.status_code == 403
        refused = await anon.post("/admin/users", data={"csrf_token": csrf, "username": "intruder", "display_name": "x",
                                                        "role": "admin", "unit": "QX", "password": "long-enough-1"})
        assert refused.status_code == 403
    with Session(demo_county) as session:
        assert session.exec(select(Campaign)).all() == []
        assert session.exec(select(User).where(User.username == "intruder")).first() is None


async def test_manage_pages(anon: httpx.AsyncClient, demo_county: Engine, clock: FakeClock) -> None:
    csrf = await sign_in(anon, "admin")
    home = await anon.get("/", headers=HTML)
    assert '<a href="/ledgers">台账</a>' in home.text and '<a href="/dashboard">看板</a>' in home.text

    units = await anon.get("/admin/org-units?kind=village", headers=HTML)
    assert units.status_code == 200 and "青石镇" in units.text and 'href="/ledgers"' in units.text
    assert "第 1 / 3 页（共 120 条）" in units.text and 'href="?kind=village&amp;page=2"' in units.text
    second = await anon.get("/admin/org-units?kind=village&page=2", headers=HTML)
    assert "第 2 / 3 页" in second.text and "QX06001" in second.text and "QX01001" not in second.text

    users = await anon.get("/admin/users", headers=HTML)
    assert "qx01-liaison" in users.text and "填报人" in users.text and '<label for="username">' in users.text
    wrong = await anon.post("/admin/users", data={"csrf_token": csrf, "username": "bad name", "display_name": "测试",
                                                  "role": "submitter", "unit": "QX01", "password": "short"})
    assert wrong.status_code == 422
    assert re.search(r'id="err-username"[^>]*>[^<]+', wrong.text) and re.search(r'id="err-password"[^>]*>[^<]+', wrong.text)
    taken = await anon.post("/admin/users", data={"csrf_token": csrf, "username": "admin", "display_name": "重复",
                                                  "role": "admin", "unit": "QX", "password": "long-enough-1"})
    assert taken.status_code == 409 and "用户名 admin 已存在" in taken.text
    added = await anon.post("/admin/users", data={"csrf_token": csrf, "username": "qx04-liaison", "display_name": "第四乡镇联络员",
                                                  "role": "submitter", "unit": "QX04", "password": "long-enough-1",
                                                  "email": "qx04@qingxi.example"})
    assert added.status_code == 303
    listed = await anon.get("/admin/users", headers=HTML)
    assert "已添加用户 qx04-liaison" in listed.text and "第四乡镇联络员" in listed.text

    empty = await anon.get("/admin/calendars", headers=HTML)
    assert "还没有载入任何年度的节假日安排" in empty.text
    year = "year: 2027\nholidays: [2027-10-01, 2027-10-02]\nmakeup_workdays: [2027-09-26]\n"
    loaded = await anon.post("/admin/calendars", data={"csrf_token": csrf},
                             files={"file": ("2027.yaml", year.encode(), "application/yaml")})
    assert loaded.status_code == 303 and loaded.headers["location"] == "/admin/calendars?year=2027"
    shown = await anon.get(loaded.headers["location"], headers=HTML)
    assert "已载入2027年节假日安排" in shown.text and "2027年10月1日" in shown.text and "2027年9月26日" in shown.text
    broken = await anon.post("/admin/calendars", data={"csrf_token": csrf},
                             files={"file": ("bad.yaml", b"year: 2027\nholidays: [2027-13-01]\n", "application/yaml")})
    assert "未能载入" in (await anon.get(broken.headers["location"], headers=HTML)).text
    assert (await anon.get("/admin/calendars?year=2031", headers=HTML)).status_code == 404

    definitions = await anon.get("/admin/definitions", headers=HTML)
    assert "后进薄弱村（软弱涣散村）党组织整顿" in definitions.text and "校验定义文件" in definitions.text
    one = await anon.get("/admin/definitions?key=weak_village_rectification", headers=HTML)
    assert "乡（镇）党委审核 → 县委组织部审核" in one.text and "逐级督办" in one.text
    assert (await anon.get("/admin/definitions?key=nope", headers=HTML)).status_code == 404
    good = Path("definitions/weak_village_rectification.yaml").read_bytes()
    ok = await anon.post("/admin/definitions/validate", data={"csrf_token": csrf},
                         files={"file": ("weak_village_rectification.yaml", good, "application/yaml")})
    assert ok.status_code == 200 and "校验通过" in ok.text
    invalid = good.replace(b"version: 1\n", b"version: 0\n", 1)
    bad = await anon.post("/admin/definitions/validate", data={"csrf_token": csrf},
                          files={"file": ("broken.yaml", invalid, "application/yaml")})
    assert bad.status_code == 422 and "<code>version</code>" in bad.text and "broken.yaml" in bad.text
    not_yaml = await anon.post("/admin/definitions/validate", data={"csrf_token": csrf},
                               files={"file": ("x.yaml", b"key: [unclosed", "application/yaml")})
    assert not_yaml.status_code == 422 and "不是有效的 YAML" in not_yaml.text
    assert get_definition("weak_village_rectification").version == 1, "validation stores nothing"


# ---- townships and reviewers ---------------------------------------------------------------------------


async def test_township_fills_in_the_generated_form_and_the_review_chain_decides(
        anon: httpx.AsyncClient, demo_county: Engine, clock: FakeClock) -> None:
    clock.set(DEC_10)
    launch_one(demo_county, "weak_village_rectification", "QX01", 2025, DEC_10)
    obligation = _quarterly(demo_county)

    later = _quarterly(demo_county, period="2026Q1")
    with Session(demo_county) as session:  # the window opened at launch: the system opened a draft
        sid = session.exec(select(Submission).where(Submission.obligation_id == obligation)).one().id

    csrf = await sign_in(anon, "qx01-liaison")
    todos = await anon.get("/todos", headers=HTML)
    assert "还剩9天" in todos.text and "尚未填报；未填：基本情况、取得的成效、存在的主要问题、下步打算" in todos.text
    assert f'href="/submissions/{sid}/edit"' in todos.text

    # A deadline whose window has not opened has no draft yet: the empty form, generated from the definition.
    form = await anon.get(f"/obligations/{later}/form", headers=HTML)
    assert form.status_code == 200
    for label in ("基本情况", "取得的成效", "存在的主要问题", "下步打算"):
        assert re.search(rf'<label for="f_\w+">{label}', form.text), label
    assert "截止 2026年3月20日" in form.text and "保存草稿" in form.text and "提交审核" in form.text
    # Submitting before the window opens: refused with the day it opens, what was typed stays; nothing is stored.
    early = await anon.post(f"/obligations/{later}/form",
                            data={"csrf_token": csrf, "action": "submit", "f_basic_situation": "只写了一部分"})
    assert early.status_code == 409 and "起才能提交" in early.text and "只写了一部分" in early.text
    # Submitting an incomplete form: each missing field is named next to it; nothing is stored.
    incomplete = await anon.post(f"/obligations/{obligation}/form",
                                 data={"csrf_token": csrf, "action": "submit", "f_basic_situation": "只写了一部分"})
    assert incomplete.status_code == 422
    assert re.search(r'id="err-results"[^>]*>请填写“取得的成效”', incomplete.text)
    assert re.search(r'id="err-next_steps"[^>]*>请填写“下步打算”', incomplete.text)
    assert "只写了一部分" in incomplete.text, "what was typed stays in the form"
    with Session(demo_county) as session:
        assert session.exec(select(Submission).where(Submission.obligation_id == later)).all() == []

    # The open deadline: its form leads to the draft the system opened; saving takes it over.
    assert (await anon.get(f"/obligations/{obligation}/form")).headers["location"] == f"/submissions/{sid}/edit"
    draft = await anon.post(f"/obligations/{obligation}/form",
                            data={"csrf_token": csrf, "action": "save", "f_basic_situation": "只写了一部分"})
    assert draft.status_code == 303 and draft.headers["location"] == f"/submissions/{sid}"
    assert "草稿已保存" in (await anon.get(draft.headers["location"], headers=HTML)).text
    todos = await anon.get("/todos", headers=HTML)
    assert "草稿未提交；未填：取得的成效、存在的主要问题、下步打算" in todos.text

    edit = await anon.get(f"/submissions/{sid}/edit", headers=HTML)
    assert "只写了一部分" in edit.text
    submitted = await anon.post(f"/submissions/{sid}/edit", data={"csrf_token": csrf, "version": version_of(edit.text),
                                                                  "action": "submit", **REPORT})
    assert submitted.status_code == 303
    assert "已提交审核" in (await anon.get(f"/submissions/{sid}", headers=HTML)).text
    assert (await anon.get(f"/submissions/{sid}/edit")).status_code == 303, "submitted material is not editable"

    # The township secretary's queue; the secretary returns it with a comment.
    csrf = await sign_in(anon, "qx01-secretary")
    queue = await anon.get("/reviews", headers=HTML)
    assert f'href="/submissions/{sid}"' in queue.text and "乡（镇）党委审核" in queue.text and "还剩9天" in queue.text
    page = await anon.get(f"/submissions/{sid}", headers=HTML)
    returned = await anon.post(f"/submissions/{sid}/decide", data={"csrf_token": csrf, "decision": "return",
                                                                   "version": version_of(page.text),
                                                                   "comment": "取得的成效请用数据说明"})
    assert returned.status_code == 303

    # The liaison sees the comment, revises and resubmits.
    csrf = await sign_in(anon, "qx01-liaison")
    assert "已退回，待修改后重新提交" in (await anon.get("/todos", headers=HTML)).text
    edit = await anon.get(f"/submissions/{sid}/edit", headers=HTML)
    assert "取得的成效请用数据说明" in edit.text and "完成班子调整1个。" in edit.text
    revised = REPORT | {"f_results": "完成班子调整1个，新发展党员2名，村集体经济增收3万元。"}
    again = await anon.post(f"/submissions/{sid}/edit", data={"csrf_token": csrf, "version": version_of(edit.text),
                                                              "action": "submit", **revised})
    assert again.status_code == 303

    # The secretary sees what changed since the return, and approves; then the county approves.
    csrf = await sign_in(anon, "qx01-secretary")
    page = await anon.get(f"/submissions/{sid}", headers=HTML)
    assert "与上一轮相比的修改" in page.text and "村集体经济增收3万元" in page.text
    assert re.search(r"<td>取得的成效</td><td class=\"before\">", page.text), "the diff names the field by its label"
    assert "第1轮" in page.text and "第2轮" in page.text
    first = await anon.post(f"/submissions/{sid}/decide", data={"csrf_token": csrf, "decision": "approve",
                                                                "version": version_of(page.text)})
    assert first.status_code == 303
    assert f'href="/submissions/{sid}"' not in (await anon.get("/reviews", headers=HTML)).text
    csrf = await sign_in(anon, "county-reviewer")
    page = await anon.get(f"/submissions/{sid}", headers=HTML)
    assert "审核（县委组织部审核）" in page.text
    final = await anon.post(f"/submissions/{sid}/decide", data={"csrf_token": csrf, "decision": "approve",
                                                                "version": version_of(page.text)})
    assert "已审核通过" in (await anon.get(final.headers["location"], headers=HTML)).text
    with Session(demo_county) as session:
        assert session.get(Submission, sid).status == "approved"  # type: ignore[union-attr]
        assert session.get(Obligation, obligation).status == "met"  # type: ignore[union-attr]

    board = await anon.get("/dashboard", headers=HTML)
    assert board.status_code == 200 and "<svg" in board.text
    assert "2025年第4季度" in board.text


async def test_township_pages_refuse_outsiders_and_other_roles(anon: httpx.AsyncClient, demo_county: Engine, clock: FakeClock) -> None:
    clock.set(DEC_10)
    launch_one(demo_county, "weak_village_rectification", "QX01", 2025, DEC_10)
    obligation = _quarterly(demo_county)
    csrf = await sign_in(anon, "qx01-liaison")
    made = await anon.post(f"/obligations/{obligation}/form", data={"csrf_token": csrf, "action": "save", **REPORT})
    sid = int(made.headers["location"].rsplit("/", 1)[1])
    forged = await anon.post(f"/submissions/{sid}/edit", data={"csrf_token": "forged", "version": "2", "action": "save"})
    assert forged.status_code == 403

    for outsider in ("qx02-liaison", "qx02-secretary"):
        csrf = await sign_in(anon, outsider)
        for path in (f"/obligations/{obligation}/form", f"/submissions/{sid}/edit", f"/submissions/{sid}"):
            r = await anon.get(path, headers=HTML)
            assert r.status_code == 404 and "没有找到" in r.text, (outsider, path)
        r = await anon.post(f"/submissions/{sid}/edit", data={"csrf_token": csrf, "version": "2", "action": "submit", **REPORT})
        assert r.status_code == 404
    # Inside the township, only the liaison fills in: the secretary and the observer may read, not edit.
    for reader in ("qx01-secretary", "observer"):
        csrf = await sign_in(anon, reader)
        assert (await anon.get(f"/submissions/{sid}", headers=HTML)).status_code == 200
        assert (await anon.get(f"/submissions/{sid}/edit", headers=HTML)).status_code == 403
        assert (await anon.get(f"/obligations/{obligation}/form", headers=HTML)).status_code == 403
        r = await anon.post(f"/submissions/{sid}/edit", data={"csrf_token": csrf, "version": "2", "action": "submit", **REPORT})
        assert r.status_code == 403
    with Session(demo_county) as session:
        assert session.get(Submission, sid).status == "draft"  # type: ignore[union-attr]
    # A missing object is a 404 page for a browser, problem+json for an API client.
    assert "没有找到" in (await anon.get("/submissions/987654", headers=HTML)).text
    assert (await anon.get("/submissions/987654")).headers["content-type"].startswith("application/problem+json")
    # The observer's queue page: not a reviewer.
    assert (await anon.get("/reviews", headers=HTML)).status_code == 403
    await sign_in(anon, "qx02-secretary")
    assert "没有等待您审核的材料" in (await anon.get("/reviews", headers=HTML)).text


async def test_dashboard_scopes_and_figures(anon: httpx.AsyncClient, demo_county: Engine, clock: FakeClock) -> None:
    clock.set(DEC_10)
    for code in ("QX01", "QX02", "QX03"):
        launch_one(demo_county, "weak_village_rectification", code, 2025, DEC_10)
    with Session(demo_county) as session:
        qx03 = session.exec(select(OrgUnit).where(OrgUnit.code == "QX03")).one()
        campaign = session.exec(select(Campaign).where(Campaign.township_id == qx03.id)).one()
        list_ob = session.exec(select(Obligation).where(Obligation.campaign_id == campaign.id, Obligation.kind == "list")).one()
        list_ob.status = "missed"  # as the tick would have marked it
        session.add(list_ob)
        qx01 = session.exec(select(OrgUnit).where(OrgUnit.code == "QX01")).one()
        qx01_campaign = session.exec(select(Campaign).where(Campaign.township_id == qx01.id)).one()
        met = session.exec(select(Obligation).where(Obligation.campaign_id == qx01_campaign.id, Obligation.kind == "list")).one()
        met.status, met.met_on = "met", met.due_on
        session.add(met)
        session.add(Escalation(campaign_id=campaign.id or 0, township_id=qx03.id or 0, obligation_id=list_ob.id,
                               trigger="overdue", level=1, level_key="urge", reason="名单逾期未报", status="open",
                               created_at=DEC_10))
        session.commit()

    await sign_in(anon, "admin")
    board = await anon.get("/dashboard", headers=HTML)
    assert board.status_code == 200
    for name in ("青石镇", "柳河乡", "白沙镇"):
        assert name in board.text
    assert "100%（1/1）" in board.text and "0%（0/1）" in board.text and "未办结的督办 1 件" in board.text
    assert "按时完成 1/2 项" in board.text and "2025年第4季度" in board.text
    assert 'class="cell st-bg-' in board.text and '<svg class="chart"' in board.text

    await sign_in(anon, "observer")
    seen = await anon.get("/dashboard", headers=HTML)
    assert "青石镇" in seen.text and "柳河乡" in seen.text and "白沙镇" not in seen.text
    assert "未办结的督办 0 件" in seen.text
    await sign_in(anon, "county-reviewer")
    assert (await anon.get("/dashboard", headers=HTML)).status_code == 200
    for username in ("qx01-liaison", "qx01-secretary"):
        await sign_in(anon, username)
        r = await anon.get("/dashboard", headers=HTML)
        assert r.status_code == 403 and "无权访问" in r.text


def test_form_fields_map_to_domain_data_and_errors_back_to_fields() -> None:
    form = get_definition("weak_village_rectification").form("acceptance_application")
    sent = FormData([("f_villages", "QX01001"), ("f_villages", "QX01002"), ("f_activists", "3"),
                     ("f_new_members", "两名"), ("f_rectification_summary", "  ")])
    data = form_data(form, sent)
    assert data == {"villages": ["QX01001", "QX01002"], "activists": 3, "new_members": "两名"}
    with pytest.raises(ValidationFailed) as caught:
        validate_form(form, data, complete=False, villages={"QX01001", "QX01002"})
    assert field_errors(caught.value) == {"new_members": "“本年度发展党员人数”应为数字"}
