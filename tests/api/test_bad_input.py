"""Bad input to submissions, drafts, decisions and attachments: every refusal is a problem+json whose
Chinese ``detail`` says what to fix and names the field, and a refused request changes nothing."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlmodel import Session, func, select

from api.routes import campaigns as campaigns_routes
from core.clock import CHINA_TZ, FakeClock
from core.db import get_engine
from models import Attachment, AuditEvent, Submission
from tests.support.world import launch_without_prefect

CJK = re.compile(r"[\u4e00-\u9fff]")
QUARTERLY = {"basic_situation": "全镇后进薄弱村3个。", "results": "调整村班子1个。", "main_problems": "集体经济薄弱。",
             "next_steps": "加强培训。"}
TEN_MB = 10 * 1024 * 1024


@dataclass
class Setup:
    client: httpx.AsyncClient
    liaison: dict[str, str]
    secretary: dict[str, str]
    admin: dict[str, str]
    obligations: dict[str, int] = field(default_factory=dict)
    draft: int = 0  # the weak-village list of 2026, a draft
    in_review: int = 0  # the 2025 Q4 quarterly report, waiting for the township secretary

    async def state(self) -> dict[str, Any]:
        """Everything a refused request must leave as it was."""
        out: dict[str, Any] = {}
        for sid in (self.draft, self.in_review):
            body = (await self.client.get(f"/api/v1/submissions/{sid}", headers=self.admin)).json()
            out[sid] = {k: body[k] for k in ("status", "version", "data", "current_level", "round", "reviews", "attachments")}
        with Session(get_engine()) as session:
            out["submissions"] = session.exec(select(func.count()).select_from(Submission)).one()
            out["attachments"] = session.exec(select(func.count()).select_from(Attachment)).one()
            out["audit"] = session.exec(select(func.count()).select_from(AuditEvent)).one()
        return out


async def _approved_list(client: httpx.AsyncClient, liaison: dict[str, str], admin: dict[str, str], obligation_id: int,
                         villages: list[str]) -> None:
    """QX01's weak-village list with its minutes, submitted and approved by the county."""
    r = await client.post("/api/v1/submissions", headers=liaison, json={"obligation_id": obligation_id, "data": {
        "villages": villages, "investigation": "逐村排查，找准问题。", "committee_meeting_date": "2025-09-24"}})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    minutes = await client.post(f"/api/v1/submissions/{sid}/attachments", headers=liaison,
                                files={"file": ("纪要.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")})
    r = await client.patch(f"/api/v1/submissions/{sid}", headers=liaison, json={
        "version": r.json()["version"], "data": r.json()["data"] | {"committee_minutes": [minutes.json()["id"]]}})
    r = await client.post(f"/api/v1/submissions/{sid}/submit", headers=liaison, json={"version": r.json()["version"]})
    shown = (await client.get(f"/api/v1/submissions/{sid}", headers=admin)).json()
    checks = {x["key"]: {"confirmed": True, "note": f"已核实：{x['name']}"}
              for x in shown.get("checks", []) if x["status"] == "needs_judgement"}
    r = await client.post(f"/api/v1/submissions/{sid}/decisions", headers=admin,
                          json={"decision": "approve", "version": r.json()["version"], "checks": checks})
    assert r.json()["status"] == "approved", r.text


@pytest.fixture
async def setup(anon: httpx.AsyncClient, login: Any, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Setup:
    """QX01's 2025 weak-village rectification on 10 Dec 2025: its list approved (a 一村一策 plan owed by QX01002), the
    Q4 report in review; the list of its 2026 campaign a draft."""
    monkeypatch.setattr(campaigns_routes, "launch_campaign", launch_without_prefect)
    admin = await login(anon, "admin")
    campaigns = {}
    for year in (2025, 2026):
        launched = await anon.post("/api/v1/campaigns", headers=admin,
                                   json={"definition": "weak_village_rectification", "township": "QX01", "year": year})
        assert launched.status_code == 201, launched.text
        campaigns[year] = launched.json()
    clock.set(dt.datetime(2025, 9, 26, 9, 0, tzinfo=CHINA_TZ))
    liaison = await login(anon, "qx01-liaison")
    listing = next(o["id"] for o in campaigns[2025]["obligations"] if o["kind"] == "list")
    await _approved_list(anon, liaison, await login(anon, "admin"), listing, ["QX01001", "QX01002", "QX01010"])
    clock.set(dt.datetime(2025, 12, 10, 9, 0, tzinfo=CHINA_TZ))
    s = Setup(anon, await login(anon, "qx01-liaison"), await login(anon, "qx01-secretary"), await login(anon, "admin"))
    current = (await anon.get(f"/api/v1/campaigns/{campaigns[2025]['id']}", headers=s.admin)).json()
    for o in current["obligations"]:
        if o["kind"] == "application" or (o["kind"] == "quarterly_report" and o["period"] in ("2025Q4", "2026Q1")):
            s.obligations[o["period"] if o["kind"] == "quarterly_report" else o["kind"]] = o["id"]
        if o["kind"] == "plan" and o["subject"] == "QX01002":
            s.obligations["plan"] = o["id"]
    s.obligations["list"] = next(o["id"] for o in campaigns[2026]["obligations"] if o["kind"] == "list")
    draft = await anon.post("/api/v1/submissions", headers=s.liaison, json={
        "obligation_id": s.obligations["list"], "data": {"villages": ["QX01001"], "investigation": "逐村排查。"}})
    assert draft.status_code == 201, draft.text
    s.draft = draft.json()["id"]
    report = await anon.post("/api/v1/submissions", headers=s.liaison, json={
        "obligation_id": s.obligations["2025Q4"], "data": QUARTERLY, "submit": True})
    assert report.status_code == 201 and report.json()["status"] == "in_review", report.text
    s.in_review = report.json()["id"]
    return s


def _problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    """A problem+json of ``status`` whose Chinese detail names ``field``."""
    where = f"{response.request.method} {response.request.url}"
    assert response.status_code == status, f"{where}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json"), where
    body = dict(response.json())
    assert body["status"] == status and body["title"] and CJK.search(body["detail"]), body
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], (where, body)
    return body


async def _send(client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str], body: Any,
                subs: dict[str, int]) -> httpx.Response:
    """``body`` as JSON (top-level "@NAME@" values replaced from ``subs``) or, given as a string, sent as it
    is (with every "@NAME@" replaced): the way to send malformed or non-standard JSON."""
    if isinstance(body, str):
        for token, value in subs.items():
            body = body.replace(token, str(value))
        return await client.request(method, url, headers=headers | {"Content-Type": "application/json"}, content=body)
    if isinstance(body, dict):
        body = {k: subs.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    return await client.request(method, url, headers=headers, json=body)


# (what, JSON body or raw text, the field the answer must name)
CREATE_CASES: list[tuple[str, Any, str | None]] = [
    ("extra top-level field", {"obligation_id": "@2026Q1@", "data": {}, "colour": "red"}, "colour"),
    ("unknown field in data", {"obligation_id": "@2026Q1@", "data": {"summary": "总结"}}, "data.summary"),
    ("number for text", {"obligation_id": "@2026Q1@", "data": {"basic_situation": 42}}, "data.basic_situation"),
    ("list for text", {"obligation_id": "@2026Q1@", "data": {"results": ["成效"]}}, "data.results"),
    ("string for the obligation", {"obligation_id": "第一季度", "data": {}}, "obligation_id"),
    ("data not an object", {"obligation_id": "@2026Q1@", "data": "基本情况"}, "data"),
    ("string for submit", {"obligation_id": "@2026Q1@", "data": {}, "submit": "马上"}, "submit"),
    ("impossible date", {"obligation_id": "@PLAN@", "data": {"time_limit": "2025-13-01"}}, "data.time_limit"),
    ("another township's village", {"obligation_id": "@PLAN@", "data": {"village": ["QX02001"]}}, "data.village"),
    ("a village that does not exist", {"obligation_id": "@PLAN@", "data": {"village": "QX01999"}}, "data.village"),
    ("a village code as a number", {"obligation_id": "@PLAN@", "data": {"village": [1001]}}, "data.village"),
    ("malformed JSON", '{"obligation_id": 1, "data": {', None),
    ("a JSON array", [], None),
    # JSON that Python parses but that cannot be stored or answered faithfully.
    ("NaN for a number", '{"obligation_id": @APPLICATION@, "data": {"activists": NaN}}', "data.activists"),
    ("Infinity for a number", '{"obligation_id": @APPLICATION@, "data": {"new_members": -Infinity}}', "data.new_members"),
    ("lone surrogate in a text", '{"obligation_id": @2026Q1@, "data": {"results": "\\ud83d"}}', "data.results"),
]


async def test_bad_new_submissions_are_422_and_create_nothing(setup: Setup) -> None:
    s = setup
    before = await s.state()
    subs = {"@2026Q1@": s.obligations["2026Q1"], "@PLAN@": s.obligations["plan"], "@APPLICATION@": s.obligations["application"]}
    for what, body, name in CREATE_CASES:
        response = await _send(s.client, "POST", "/api/v1/submissions", s.liaison, body, subs)
        problem = _problem(response, 422, name)
        if name is not None and not name.startswith("data."):
            assert name in problem["detail"], (what, problem)
        if what == "malformed JSON":
            assert "JSON" in problem["detail"]
        if what == "impossible date":
            assert "YYYY-MM-DD" in problem["detail"] and "整改时限" in problem["detail"]
        if what == "another township's village":
            assert "QX02001" in problem["detail"] and "不属于本乡镇" in problem["detail"]
        assert await s.state() == before, f"{what}: a refused request changed something"
    # The same obligation with good data is accepted: the refusals were about the input only.
    good = await s.client.post("/api/v1/submissions", headers=s.liaison,
                               json={"obligation_id": s.obligations["plan"], "data": {"village": ["QX01002"], "time_limit": "2026-06-30"}})
    assert good.status_code == 201, good.text
    assert good.json()["data"] == {"village": ["QX01002"], "time_limit": "2026-06-30"}


PATCH_CASES: list[tuple[str, Any, str | None]] = [
    ("extra top-level field", {"data": {}, "version": "@VERSION@", "status": "approved"}, "status"),
    ("unknown field in data", {"data": {"reviewer": "我"}, "version": "@VERSION@"}, "data.reviewer"),
    ("number for text", {"data": {"investigation": 3.5}, "version": "@VERSION@"}, "data.investigation"),
    ("string for version", {"data": {}, "version": "最新"}, "version"),
    ("version missing", {"data": {}}, "version"),
    ("version zero", {"data": {}, "version": 0}, "version"),
    ("impossible date", {"data": {"committee_meeting_date": "2025-13-01"}, "version": "@VERSION@"}, "data.committee_meeting_date"),
    ("date as a number", {"data": {"committee_meeting_date": 20251001}, "version": "@VERSION@"}, "data.committee_meeting_date"),
    ("another township's village", {"data": {"villages": ["QX01001", "QX02003"]}, "version": "@VERSION@"}, "data.villages"),
    ("a missing attachment", {"data": {"committee_minutes": [987654]}, "version": "@VERSION@"}, "data.committee_minutes"),
    ("control characters", {"data": {"investigation": "排查\x00完毕"}, "version": "@VERSION@"}, "data.investigation"),
    ("lone surrogate in a text", '{"version": @VERSION@, "data": {"investigation": "\\ud800"}}', "data.investigation"),
    ("malformed JSON", '{"data": {}, "version": 1', None),
]


async def test_bad_draft_updates_are_422_and_change_nothing(setup: Setup) -> None:
    s = setup
    before = await s.state()
    version = before[s.draft]["version"]
    for what, body, name in PATCH_CASES:
        response = await _send(s.client, "PATCH", f"/api/v1/submissions/{s.draft}", s.liaison, body, {"@VERSION@": version})
        problem = _problem(response, 422, name)
        if name is not None and not name.startswith("data."):
            assert name in problem["detail"], (what, problem)
        if what == "impossible date":
            assert "党委会研究日期" in problem["detail"] and "YYYY-MM-DD" in problem["detail"]
        if what == "another township's village":
            assert "QX02003" in problem["detail"]
        assert await s.state() == before, f"{what}: a refused request changed something"
    # A good update goes through.
    good = await s.client.patch(f"/api/v1/submissions/{s.draft}", headers=s.liaison,
                                json={"version": version, "data": {"villages": ["QX01001", "QX01003"], "committee_meeting_date": "2025-10-09"}})
    assert good.status_code == 200, good.text
    assert good.json()["version"] == version + 1


DECISION_CASES: list[tuple[str, Any, str | None]] = [
    ("extra top-level field", {"decision": "approve", "version": "@VERSION@", "level": 1}, "level"),
    ("unknown decision", {"decision": "approve!", "version": "@VERSION@"}, "decision"),
    ("decision as a number", {"decision": 1, "version": "@VERSION@"}, "decision"),
    ("string for version", {"decision": "approve", "version": "v2"}, "version"),
    ("comment over 4000", {"decision": "return", "comment": "请" * 4001, "version": "@VERSION@"}, "comment"),
    ("comment as a list", {"decision": "return", "comment": ["请修改"], "version": "@VERSION@"}, "comment"),
    ("lone surrogate in the comment", '{"decision": "return", "comment": "\\udfff", "version": @VERSION@}', "comment"),
    ("malformed JSON", '{"decision": "approve", ', None),
    ("empty body", "", None),
    ("judgements as a list", {"decision": "approve", "version": "@VERSION@", "checks": ["veto"]}, "checks"),
    ("a judgement without its answer", {"decision": "approve", "version": "@VERSION@",
                                        "checks": {"veto": {"note": "复查未发现"}}}, "checks.veto.confirmed"),
    ("a control character in a judgement's note", {"decision": "approve", "version": "@VERSION@",
                                                   "checks": {"veto": {"confirmed": True, "note": "复查\u0007未发现"}}}, "checks.veto.note"),
    ("an override reason over 2000", {"decision": "approve", "version": "@VERSION@", "override_reason": "理" * 2001},
     "override_reason"),
    ("judgements of a report that passes no gate", {"decision": "approve", "version": "@VERSION@",
                                                    "checks": {"veto": {"confirmed": True, "note": "复查未发现"}}}, None),
    ("an override of a report that passes no gate", {"decision": "approve", "version": "@VERSION@",
                                                     "override_reason": "经研究同意"}, None),
]


async def test_bad_decisions_are_422_and_change_nothing(setup: Setup) -> None:
    s = setup
    before = await s.state()
    version = before[s.in_review]["version"]
    url = f"/api/v1/submissions/{s.in_review}/decisions"
    for what, body, name in DECISION_CASES:
        response = await _send(s.client, "POST", url, s.secretary, body, {"@VERSION@": version})
        problem = _problem(response, 422, name)
        if name is not None:
            assert name in problem["detail"], (what, problem)
        assert await s.state() == before, f"{what}: a refused request changed something"
    # A return needs a comment; exactly 4000 characters is allowed.
    _problem(await s.client.post(url, headers=s.secretary, json={"decision": "return", "comment": "   ", "version": version}), 422, "comment")
    assert await s.state() == before
    returned = await s.client.post(url, headers=s.secretary, json={"decision": "return", "comment": "请" * 4000, "version": version})
    assert returned.status_code == 200, returned.text
    assert returned.json()["status"] == "returned" and len(returned.json()["reviews"][0]["comment"]) == 4000


async def test_bad_attachments_are_refused_and_store_nothing(setup: Setup) -> None:
    s = setup
    before = await s.state()
    url = f"/api/v1/submissions/{s.draft}/attachments"
    cases = [
        ("over 10 MB", ("大.pdf", b"%PDF-1.4 " + b"0" * TEN_MB, "application/pdf"), 413, "10 MB"),
        ("plain text", ("说明.txt", b"hello", "text/plain"), 415, "text/plain"),
        ("no type", ("x", b"%PDF-1.4", ""), 415, "PDF"),
        ("HTML", ("x.html", b"<script>alert(1)</script>", "text/html"), 415, "text/html"),
        ("not a PDF", ("伪装.pdf", b"hello", "application/pdf"), 422, "不符"),
        ("a PNG declared as JPEG", ("x.jpg", b"\x89PNG\r\n\x1a\n", "image/jpeg"), 422, "不符"),
        ("empty", ("空.pdf", b"", "application/pdf"), 422, "空文件"),
    ]
    for what, upload, status, words in cases:
        problem = _problem(await s.client.post(url, headers=s.liaison, files={"file": upload}), status, "file")
        assert words in problem["detail"], (what, problem)
        assert await s.state() == before, f"{what}: a refused upload changed something"
    missing = await s.client.post(url, headers=s.liaison, data={"note": "没有文件"})
    _problem(missing, 422, "file")
    assert await s.state() == before
    # Exactly 10 MB of real PDF is accepted.
    accepted = await s.client.post(url, headers=s.liaison, files={"file": ("整 10 MB.pdf", b"%PDF" + b"0" * (TEN_MB - 4), "application/pdf")})
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["size"] == TEN_MB


async def test_unknown_data_field_is_named_in_the_detail(setup: Setup) -> None:
    response = await setup.client.patch(f"/api/v1/submissions/{setup.draft}", headers=setup.liaison,
                                        json={"version": 1, "data": {"reviewer": "我", "investigation": "排查"}})
    problem = _problem(response, 422, "data.reviewer")
    assert "reviewer" in problem["detail"]
