"""The server-rendered pages for to-dos and submissions, signed in with a session cookie."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy.engine import Engine

from core.clock import CHINA_TZ, FakeClock
from tasks.launch import launch_one
from tests.support.web import sign_in, version_of

DATA = {"basic_situation": "全镇后进村整顿有序推进<script>alert(1)</script>", "results": "新发展党员3名",
        "main_problems": "个别村班子不团结", "next_steps": "下季度完成换届调整"}


async def test_township_and_reviewer_pages(anon: httpx.AsyncClient, demo_county: Engine, clock: FakeClock, login) -> None:  # type: ignore[no-untyped-def]
    now = dt.datetime(2025, 12, 10, 9, tzinfo=CHINA_TZ)
    clock.set(now)
    launch_one(demo_county, "weak_village_rectification", "QX01", 2025, now)
    liaison = await login(anon, "qx01-liaison")
    todos = (await anon.get("/api/v1/todos", headers=liaison)).json()["items"]
    quarterly = next(t for t in todos if t["kind"] == "quarterly_report")
    created = await anon.post("/api/v1/submissions", headers=liaison,
                              json={"obligation_id": quarterly["obligation_id"], "data": DATA, "submit": True})
    assert created.status_code == 201, created.text
    sid = created.json()["id"]

    await sign_in(anon, "qx01-liaison", "/todos")
    page = (await anon.get("/todos")).text
    assert "后进薄弱村党组织建设季度报告" in page and "还剩9天" in page and f"/submissions/{sid}" in page

    csrf = await sign_in(anon, "qx01-secretary", "/todos")
    queue = (await anon.get("/todos")).text
    assert "待审核" in queue and f"/submissions/{sid}" in queue
    detail = await anon.get(f"/submissions/{sid}")
    assert detail.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail.text and "<script>alert(1)" not in detail.text
    assert "审核通过" in detail.text and "<td>提交审核</td>" in detail.text and "submission.submit" not in detail.text
    version = version_of(detail.text)

    refused = await anon.post(f"/submissions/{sid}/decide", data={"decision": "approve", "version": version, "csrf_token": "forged"})
    assert refused.status_code == 403
    no_comment = await anon.post(f"/submissions/{sid}/decide", data={"decision": "return", "version": version, "csrf_token": csrf})
    assert no_comment.status_code == 303 and no_comment.headers["location"] == f"/submissions/{sid}"
    assert "操作未完成" in (await anon.get(no_comment.headers["location"])).text  # the flash message, shown once
    approved = await anon.post(f"/submissions/{sid}/decide", data={"decision": "approve", "version": version, "csrf_token": csrf})
    assert approved.status_code == 303
    after = await anon.get(approved.headers["location"])
    assert "已审核通过" in after.text and "县委组织部审核" in after.text

    await sign_in(anon, "qx02-liaison", "/todos")
    assert (await anon.get(f"/submissions/{sid}")).status_code == 404


async def test_pages_need_a_session(anon: httpx.AsyncClient) -> None:
    for path in ("/", "/todos", "/submissions/1", "/campaigns/1", "/admin/mail"):
        r = await anon.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), path
