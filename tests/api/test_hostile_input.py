"""A catalogue of hostile input, table-driven: wrong types, missing and extra fields, oversized bodies, overlong
strings, control characters and odd Unicode, impossible dates and years, unknown enum values, SQL- and
template-injection strings and XSS payloads, sent to the endpoints test_bad_input.py does not already cover.

Each is refused with a 4xx problem+json whose Chinese ``detail`` says what to fix, and changes nothing (the row
counts of every table a request could touch are compared before and after), or, where the field is free text,
stored verbatim and escaped wherever it is shown: the HTML pages and the HTML part of the mail it causes.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from markupsafe import escape
from sqlmodel import Session, col, func, select

from api.routes import campaigns as campaigns_routes
from core.clock import FakeClock
from core.db import get_engine
from core.settings import get_settings
from models import (
    AccountabilityCase,
    ApiToken,
    Attachment,
    AuditEvent,
    Campaign,
    Escalation,
    Obligation,
    OutboxMessage,
    Review,
    Submission,
    VillageRectification,
)
from notifications.render import render_mail
from tests.support.clock import at
from tests.support.tick import tick
from tests.support.world import launch, launch_without_prefect

CJK = re.compile(r"[\u4e00-\u9fff]")
QUARTERLY = {"basic_situation": "全镇后进薄弱村3个。", "results": "调整村班子1个。", "main_problems": "集体经济薄弱。",
             "next_steps": "加强培训。"}
SQL = "' OR 1=1 --"
XSS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>']
TEMPLATE = ["{{ 7*7 }}", "{% raw %}", "{{ config }}"]
RTL = "\u202e"  # right-to-left override
HOSTILE_TEXT = f"请修改。{XSS[0]}{XSS[1]} {TEMPLATE[0]} {TEMPLATE[1]} {SQL} {RTL}txt.exe 😀👍🏽"
COUNTED = (Campaign, Obligation, Submission, Review, Attachment, AuditEvent, OutboxMessage, Escalation,
           AccountabilityCase, VillageRectification)


@dataclass
class World:
    client: httpx.AsyncClient
    tokens: dict[str, dict[str, str]]
    ids: dict[str, int]

    def counts(self) -> dict[str, int]:
        """Rows per table, and the version of every row people decide on: what a refused request must not change."""
        with Session(get_engine()) as session:
            out = {m.__name__: session.exec(select(func.count()).select_from(m)).one() for m in COUNTED}
            for model in (Submission, Escalation, AccountabilityCase):
                out |= {f"{model.__name__}:{i}": v for i, v in session.exec(select(model.id, model.version))}  # type: ignore[call-overload]
        return out


@pytest.fixture
async def world(anon: httpx.AsyncClient, login: Any, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    """QX01's 2025 weak-village rectification on 10 Dec 2025: its list was escalated in October (an open
    escalation with its document), the Q4 quarterly report waits for the township secretary."""
    monkeypatch.setattr(campaigns_routes, "launch_campaign", launch_without_prefect)
    engine = get_engine()
    launch(engine, ["QX01"], at(dt.date(2025, 1, 2)))
    tick(engine, at(dt.date(2025, 10, 20)))
    clock.set(at(dt.date(2025, 12, 10)))
    tokens = {u: await login(anon, u) for u in ("admin", "qx01-liaison", "qx01-secretary")}
    with Session(engine) as s:
        report = s.exec(select(Obligation).where(Obligation.period == "2025Q4")).one()
        escalation = s.exec(select(Escalation).where(Escalation.status == "open").order_by(col(Escalation.id))).first()
        assert escalation is not None
    submitted = await anon.post("/api/v1/submissions", headers=tokens["qx01-liaison"],
                                json={"obligation_id": report.id, "data": QUARTERLY, "submit": True})
    assert submitted.status_code == 201, submitted.text
    yield World(anon, tokens, {"report": submitted.json()["id"], "report_version": submitted.json()["version"],
                               "escalation": escalation.id or 0, "version": escalation.version})


def _problem(response: httpx.Response, status: int, what: str) -> dict[str, Any]:
    assert response.status_code == status, f"{what}: {response.status_code} {response.text[:300]}"
    assert response.headers["content-type"].startswith("application/problem+json"), what
    body = dict(response.json())
    assert body["status"] == status and CJK.search(body["title"]) and CJK.search(body["detail"]), (what, body)
    return body


# (what, method, url, who, JSON body or raw bytes/str, expected status, a word the detail must contain)
# In URLs and bodies, @REPORT@, @ESC@ and @VERSION@ stand for the seeded rows.
CASES: list[tuple[str, str, str, str, Any, int, str | None]] = [
    # wrong types, missing and extra fields
    ("year as Chinese numerals", "POST", "/api/v1/campaigns", "admin",
     {"definition": "weak_village_rectification", "township": "QX01", "year": "二〇二六"}, 422, "year"),
    ("township as a number", "POST", "/api/v1/campaigns", "admin",
     {"definition": "weak_village_rectification", "township": 1, "year": 2026}, 422, "township"),
    ("year missing", "POST", "/api/v1/campaigns", "admin", {"definition": "weak_village_rectification", "township": "QX01"},
     422, "year"),
    ("extra field on a launch", "POST", "/api/v1/campaigns", "admin",
     {"definition": "weak_village_rectification", "township": "QX01", "year": 2026, "force": True}, 422, "force"),
    ("townships as a string", "POST", "/api/v1/campaigns/batch", "admin",
     {"definition": "weak_village_rectification", "year": 2026, "townships": "QX01,QX02"}, 422, "townships"),
    ("version as a list", "POST", "/api/v1/escalations/@ESC@/confirm", "admin", {"note": "属实", "version": [1]}, 422, "version"),
    ("note missing", "POST", "/api/v1/escalations/@ESC@/dismiss", "admin", {"version": "@VERSION@"}, 422, "note"),
    ("body is a JSON string", "POST", "/api/v1/escalations/@ESC@/dismiss", "admin", '"不属实"', 422, None),
    ("body is null", "POST", "/api/v1/submissions/@REPORT@/decisions", "qx01-secretary", "null", 422, None),
    ("password as an object", "POST", "/api/v1/auth/token", "nobody", {"username": "admin", "password": {"$ne": ""}}, 422,
     "password"),
    # out-of-range numbers, dates and years
    ("year 99999", "POST", "/api/v1/campaigns", "admin",
     {"definition": "weak_village_rectification", "township": "QX01", "year": 99999}, 422, "年度"),
    ("year -1", "POST", "/api/v1/campaigns/batch", "admin", {"definition": "weak_village_rectification", "year": -1}, 422,
     "年度"),
    ("a calendar of year 1800", "GET", "/api/v1/calendar/1800", "admin", None, 422, "1900"),
    ("30 February", "POST", "/api/v1/escalations/@ESC@/interview", "admin",
     {"interview_on": "2025-02-30", "version": "@VERSION@"}, 422, "YYYY-MM-DD"),
    ("year 0", "POST", "/api/v1/escalations/@ESC@/interview", "admin",
     {"interview_on": "0000-01-01", "version": "@VERSION@"}, 422, "interview_on"),
    ("a five-digit year", "POST", "/api/v1/escalations/@ESC@/interview", "admin",
     {"interview_on": "+10000-01-01", "version": "@VERSION@"}, 422, "interview_on"),
    ("an id past the database's integers", "GET", "/api/v1/submissions/9223372036854775808", "admin", None, 422, "2147483647"),
    ("a web page id past the database's integers", "GET", "/submissions/99999999999999999999", "admin", None, 422,
     "2147483647"),
    ("an offset past the database's integers", "GET", "/api/v1/campaigns?offset=99999999999", "admin", None, 422, "offset"),
    ("an audit subject past the database's integers", "GET", "/api/v1/audit?subject=submission:99999999999", "admin", None,
     422, "subject"),
    ("a version past the database's integers", "POST", "/api/v1/submissions/@REPORT@/decisions", "qx01-secretary",
     {"decision": "approve", "version": 2**63}, 422, "version"),
    ("version zero", "POST", "/api/v1/escalations/@ESC@/confirm", "admin", {"note": "属实", "version": 0}, 422, "version"),
    # unknown enum values
    ("unknown escalation status", "GET", "/api/v1/escalations?status=everything", "admin", None, 422, "status"),
    ("unknown outbox status", "GET", "/api/v1/outbox?status=dead%27--", "admin", None, 422, "status"),
    ("unknown ledger", "GET", "/api/v1/ledgers/users.xlsx", "admin", None, 404, "users"),
    ("unknown rectification action", "POST", "/api/v1/rectifications/1/actions", "admin", {"action": "delete", "version": 1},
     422, "action"),
    ("unknown decision", "POST", "/api/v1/submissions/@REPORT@/decisions", "qx01-secretary",
     {"decision": "APPROVE", "version": 1}, 422, "decision"),
    # overlong strings
    ("a note over 2000", "POST", "/api/v1/escalations/@ESC@/confirm", "admin", {"note": "核" * 2001, "version": "@VERSION@"},
     422, "2000"),
    ("a place over 200", "POST", "/api/v1/escalations/@ESC@/interview", "admin",
     {"interview_on": "2025-12-09", "place": "会" * 201, "version": "@VERSION@"}, 422, "200"),
    ("a username over 64", "POST", "/api/v1/auth/token", "nobody", {"username": "a" * 65, "password": "x"}, 422, "64"),
    ("a township filter over 32", "GET", "/api/v1/campaigns?township=" + "Q" * 33, "admin", None, 422, "32"),
    ("an Idempotency-Key over 255", "POST", "/api/v1/campaigns", "admin+key",
     {"definition": "weak_village_rectification", "township": "QX01", "year": 2026}, 422, "255"),
    # control characters and broken Unicode
    ("NUL in a note", "POST", "/api/v1/escalations/@ESC@/confirm", "admin", {"note": "属\x00实", "version": "@VERSION@"}, 422,
     "控制字符"),
    ("escape character in a username", "POST", "/api/v1/auth/token", "nobody", {"username": "admin\x1b[2J", "password": "x"},
     422, "控制字符"),
    ("lone surrogate in a note", "POST", "/api/v1/escalations/@ESC@/dismiss", "admin",
     '{"note": "\\ud800", "version": @VERSION@}', 422, "Unicode"),
    ("NUL in a query filter", "GET", "/api/v1/campaigns?township=QX01%00", "admin", None, 422, "控制字符"),
    ("NUL in a status filter", "GET", "/api/v1/submissions?status=%00", "admin", None, 422, "控制字符"),
    ("NUL in a parent code", "GET", "/api/v1/org-units?parent=%00", "admin", None, 422, "控制字符"),
    ("NUL in a ledger filter", "GET", "/api/v1/ledgers/campaigns.xlsx?definition=%00", "admin", None, 422, "控制字符"),
    ("not UTF-8", "POST", "/api/v1/escalations/@ESC@/dismiss", "admin", b'{"note": "\xff\xfe", "version": 1}', 400, "UTF-8"),
    ("JSON nested 100,000 deep", "POST", "/api/v1/auth/token", "nobody", b"[" * 100_000, 400, "JSON"),
    # SQL injection, where a value names something that must exist
    ("SQL in a township code", "POST", "/api/v1/campaigns", "admin",
     {"definition": "weak_village_rectification", "township": SQL, "year": 2026}, 422, "乡镇"),
    ("SQL in a definition key", "POST", "/api/v1/campaigns/batch", "admin", {"definition": SQL, "year": 2026}, 422, "督办定义"),
    ("SQL in an audit subject", "GET", "/api/v1/audit?subject=submission:1%20OR%201=1", "admin", None, 422, "subject"),
    ("SQL in a path", "GET", "/api/v1/definitions/x'%20OR%201=1%20--", "admin", None, 404, "督办定义"),
    ("SQL in a parent code", "GET", "/api/v1/org-units?parent=" + SQL, "admin", None, 404, "上级编码"),
]


async def _send(world: World, method: str, url: str, who: str, body: Any) -> httpx.Response:
    subs = {"@REPORT@": str(world.ids["report"]), "@ESC@": str(world.ids["escalation"]), "@VERSION@": str(world.ids["version"])}
    for token, value in subs.items():
        url = url.replace(token, value)
    headers = dict(world.tokens.get(who.removesuffix("+key"), {}))
    if who.endswith("+key"):
        headers["Idempotency-Key"] = "k" * 256
    if body is None:
        return await world.client.request(method, url, headers=headers)
    if isinstance(body, dict):
        body = {k: int(subs[v]) if isinstance(v, str) and v in subs else v for k, v in body.items()}
        return await world.client.request(method, url, headers=headers, json=body)
    if isinstance(body, str):
        for token, value in subs.items():
            body = body.replace(token, value)
    return await world.client.request(method, url, headers=headers | {"Content-Type": "application/json"}, content=body)


async def test_the_catalogue_of_bad_input_is_refused_and_changes_nothing(world: World) -> None:
    before = world.counts()
    with Session(get_engine()) as session:
        tokens_before = session.exec(select(func.count()).select_from(ApiToken)).one()
    refused = 0
    for what, method, url, who, body, status, words in CASES:
        response = await _send(world, method, url, who, body)
        problem = _problem(response, status, what)
        if words is not None:
            assert words in problem["detail"], (what, problem["detail"])
        assert world.counts() == before, f"{what}: a refused request changed something"
        refused += 1
    with Session(get_engine()) as session:
        assert session.exec(select(func.count()).select_from(ApiToken)).one() == tokens_before, "a token was issued"
    assert refused == len(CASES) >= 45
    # SQL in a username signs nobody in; the failed attempt itself is recorded (by design), nothing else.
    sql_login = await world.client.post("/api/v1/auth/token", json={"username": "admin' --", "password": SQL})
    assert "密码" in _problem(sql_login, 401, "SQL in a username")["detail"]
    after = world.counts()
    assert {k: v for k, v in after.items() if k != "AuditEvent"} == {k: v for k, v in before.items() if k != "AuditEvent"}
    # The refusals were about the input: the same requests with good input go through.
    good = await world.client.post(f"/api/v1/escalations/{world.ids['escalation']}/dismiss", headers=world.tokens["admin"],
                                   json={"note": "经核实，已于12月补报", "version": world.ids["version"]})
    assert good.status_code == 200, good.text


async def test_oversized_bodies_are_refused_with_413_before_anything_is_written(world: World) -> None:
    limit = get_settings().max_request_bytes
    before = world.counts()
    url = f"/api/v1/submissions/{world.ids['report']}/decisions"
    secretary = world.tokens["qx01-secretary"]
    huge = json.dumps({"decision": "return", "comment": "请" * 10, "version": 1, "pad": "x" * (limit + 1)}).encode()
    cases: list[tuple[str, dict[str, str], Any]] = [
        ("declared length over the limit", secretary | {"Content-Type": "application/json"}, huge),
        ("streamed without a length", secretary | {"Content-Type": "application/json"}, _chunks(huge)),
        ("a lying Content-Length", secretary | {"Content-Type": "application/json", "Content-Length": str(limit * 2)}, b"{}"),
    ]
    for what, headers, content in cases:
        response = await world.client.post(url, headers=headers, content=content)
        problem = _problem(response, 413, what)
        assert "MB" in problem["detail"], problem
        assert world.counts() == before, f"{what}: changed something"
    assert len(cases) == 3


async def _chunks(data: bytes, size: int = 1024 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_hostile_free_text_is_stored_verbatim_and_escaped_in_pages_and_mail(world: World) -> None:
    """A return comment carrying XSS, template and SQL payloads, an RTL override and emoji is legitimate free text:
    it is kept exactly, and wherever it is shown it is text, never markup or template code."""
    report = world.ids["report"]
    returned = await world.client.post(f"/api/v1/submissions/{report}/decisions", headers=world.tokens["qx01-secretary"],
                                       json={"decision": "return", "comment": HOSTILE_TEXT,
                                             "version": world.ids["report_version"]})
    assert returned.status_code == 200, returned.text
    assert returned.json()["reviews"][-1]["comment"] == HOSTILE_TEXT
    # An attachment whose file name is a payload.
    name = f'{XSS[1]}{RTL}fdp.exe.pdf'
    upload = await world.client.post(f"/api/v1/submissions/{report}/attachments", headers=world.tokens["qx01-liaison"],
                                     files={"file": (name, b"%PDF-1.4 x", "application/pdf")})
    assert upload.status_code == 201, upload.text
    download = await world.client.get(upload.json()["url"], headers=world.tokens["qx01-liaison"])
    disposition = download.headers["content-disposition"]
    assert '"' not in disposition.split("filename*=", 1)[1] and "<" not in disposition, disposition

    checked = 0
    for who in ("qx01-liaison", "qx01-secretary", "admin"):
        page = await world.client.get(f"/submissions/{report}", headers=world.tokens[who] | {"Accept": "text/html"})
        assert page.status_code == 200, page.text[:300]
        checked += _assert_escaped(page.text, f"submission page as {who}")
    assert str(escape(HOSTILE_TEXT)) in page.text  # shown, escaped, in full

    with Session(get_engine()) as session:
        mails = session.exec(select(OutboxMessage).where(col(OutboxMessage.key).startswith(f"return:{report}:"))).all()
    assert mails, "the return mailed the township"
    for mail in mails:
        assert "\n" not in mail.subject and "\r" not in mail.subject
        assert HOSTILE_TEXT in mail.body_text  # plain text carries it as it is
        checked += _assert_escaped(mail.body_html, f"mail {mail.key}")

    # Every field of a mail, rendered directly: payloads in the title, township, names and comment.
    hostile_values = {"title": XSS[0] + "\r\nBcc: all@example.com", "township": XSS[1], "subject_unit": TEMPLATE[0],
                      "level_name": TEMPLATE[1], "recipient_name": SQL + XSS[0], "comment": HOSTILE_TEXT}
    mail = render_mail("submission_returned", {**hostile_values, "decided_on": dt.date(2025, 12, 10), "round": 1,
                                               "due_date": dt.date(2025, 12, 20), "link": "https://duban.example/s/1"})
    assert "\n" not in mail.subject and "Bcc" in mail.subject  # one header line: no header injection
    checked += _assert_escaped(mail.html, "rendered mail")
    assert "49" not in mail.text.replace("2025", "")  # {{ 7*7 }} was not evaluated in the plain text either
    assert TEMPLATE[0] in mail.text and TEMPLATE[1] in mail.text
    assert checked >= 5


def _assert_escaped(markup: str, where: str) -> int:
    """No payload survives as markup or as evaluated template code."""
    for payload in XSS:
        assert payload not in markup, f"{where}: raw {payload!r}"
    assert "<script>alert" not in markup and "onerror=alert(1)>" not in markup, where
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup, f"{where}: the payload is not shown escaped"
    assert "{{ 7*7 }}" in markup and ">49<" not in markup, f"{where}: template code was evaluated"
    return 1


@pytest.mark.parametrize(("path", "status"), [
    ("/submissions/99999999999999999999", 422), ("/campaigns/99999999999999999999", 422),
    ("/escalations/99999999999", 422), ("/cases/99999999999", 422),
    ("/escalations?township=QX01%00", 422), ("/dashboard?definition=%00", 422),
    ("/dashboard?year=99999999999999999999", 422),
    ("/dashboard?pick=weak_village_rectification|%C2%B2%C2%B2%C2%B2%C2%B2", 200),  # "²²²²": not a year, ignored
    ("/dashboard?pick=weak_village_rectification|" + "9" * 5000, 200),
])
async def test_web_pages_answer_hostile_urls_without_a_server_error(world: World, path: str, status: int) -> None:
    """Ids and years past what the database holds, NUL (which PostgreSQL refuses in text) and odd digits."""
    before = world.counts()
    response = await world.client.get(path, headers=world.tokens["admin"] | {"Accept": "text/html"})
    assert response.status_code == status, (path, response.status_code, response.text[:200])
    assert world.counts() == before
