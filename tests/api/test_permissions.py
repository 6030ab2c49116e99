"""Object-level authorisation (BOLA / IDOR) over HTTP: every route that names a township's object answers
404 to callers outside that township (never 403, 200 or 500), list endpoints leak nothing, and inside the
township each role may do only its own part of the review chain.

The route table (``tests.support.qx02.ROUTES``, shared with the route matrix) is checked against ``app.routes``:
a new ``/api/v1`` route (or web page) with a path parameter that is not in the table fails
``test_route_table_covers_every_api_route_with_a_path_parameter``.
"""

from __future__ import annotations

import re

import httpx
import pytest

from core.clock import FakeClock
from tests.support.qx02 import PDF, QUARTERLY, ROUTES, Login, Row, World, approve_list, body_for, build_world, ok
from tests.support.web import app_routes

NOT_FOUND_ID = 987654
OUTSIDERS = ["qx01-liaison", "qx01-secretary", "qx03-liaison", "qx03-secretary"]


def _routes_with_path_parameters() -> set[tuple[str, str]]:
    """(method, path) of every FastAPI route (API and pages) with a path parameter, included routers too."""
    found = {(method, path) for method, path, _ in app_routes() if "{" in path}
    assert any(path.startswith("/api/v1/") for _, path in found), "the route walk found no API route"
    return found


@pytest.fixture
async def world(anon: httpx.AsyncClient, login: Login, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> World:
    return await build_world(anon, login, clock, monkeypatch)


def test_route_table_covers_every_api_route_with_a_path_parameter() -> None:
    table = {(r.method, r.path) for r in ROUTES}
    assert len(table) == len(ROUTES), "a route is listed twice"
    routes = _routes_with_path_parameters()
    assert routes - table == set(), "new routes with a path parameter: add them to ROUTES with a QX02 target"
    assert table - routes == set(), "ROUTES names routes that no longer exist"


# ---- the world: QX01 and QX02 campaigns, QX02 material in every state ------------------------------------


async def _call(w: World, row: Row, object_id: int | str, headers: dict[str, str]) -> httpx.Response:
    # A path naming an object and a year (a township's assessment) is walked with the year of the world.
    path = row.path.replace("{year}", "2025") if row.path.count("{") > 1 else row.path
    path = re.sub(r"\{[^}]+\}", str(object_id), path)
    return await w.client.request(row.method, path, headers=headers, **await body_for(w, row))


def _same_shape(detail: str, object_id: int | str) -> str:
    return detail.replace(str(object_id), "<id>")


async def test_outsiders_get_404_on_every_route_naming_a_qx02_object(world: World) -> None:
    w = world
    await approve_list(w)
    admin = await w.as_("admin")
    # Control: every target exists and the county administrator sees it.
    for key, path in (("campaign", "/api/v1/campaigns/{}"), ("quarterly", "/api/v1/submissions/{}"),
                      ("list", "/api/v1/submissions/{}"), ("draft", "/api/v1/submissions/{}"),
                      ("attachment", "/api/v1/attachments/{}")):
        assert (await w.client.get(path.format(w.ids[key]), headers=admin)).status_code == 200, key
    before = await w.snapshot()

    failures: list[str] = []
    for username in OUTSIDERS:
        headers = await w.as_(username)
        for row in ROUTES:
            if row.target is None:  # reference data, the same for everyone
                sample = {"/api/v1/definitions/{key}": "weak_village_rectification", "/api/v1/calendar/{year}": 2025,
                          "/api/v1/outbox/{outbox_id}/retry": 1, "/api/v1/ledgers/{name}.xlsx": "campaigns"}.get(
                              row.path, 1 if "{programme_id}" in row.path else "QXD01" if "{unit}" in row.path else 2025)
                response = await _call(w, row, sample, headers)
                if response.status_code != row.expect:
                    failures.append(f"{username}: {row.method} {row.path} → {response.status_code}, "
                                    f"expected {row.expect} ({row.reason})")
                continue
            object_id = w.ids[row.target] if row.target in w.ids else w.codes[row.target]
            response = await _call(w, row, object_id, headers)
            where = f"{username}: {row.method} {row.path} ({row.target} {object_id})"
            if response.status_code != 404:
                failures.append(f"{where} → {response.status_code} {response.text[:200]}")
                continue
            if not response.headers["content-type"].startswith("application/problem+json"):
                failures.append(f"{where} → 404 but {response.headers['content-type']}")
                continue
            # Indistinguishable from an object that does not exist at all.
            missing = await _call(w, row, NOT_FOUND_ID, headers)
            seen, unseen = response.json(), missing.json()
            if (missing.status_code, unseen["title"], _same_shape(unseen["detail"], NOT_FOUND_ID)) != (
                    404, seen["title"], _same_shape(seen["detail"], object_id)):
                failures.append(f"{where} → 404 {seen} differs from a missing object's {missing.status_code} {unseen}")
        # The request body may name a QX02 object too: answering QX02's obligation.
        answers = [await w.client.post("/api/v1/submissions", headers=headers,
                                       json={"obligation_id": obligation, "data": QUARTERLY, "submit": True})
                   for obligation in (w.ids["obligation"], NOT_FOUND_ID)]
        if [a.status_code for a in answers] != [404, 404] or _same_shape(answers[0].json()["detail"], w.ids["obligation"]) \
                != _same_shape(answers[1].json()["detail"], NOT_FOUND_ID):
            failures.append(f"{username}: POST /api/v1/submissions (QX02 obligation) → {answers[0].status_code} {answers[0].text[:200]}")
        parent = await w.client.get("/api/v1/org-units", params={"parent": "QX02"}, headers=headers)
        nowhere = await w.client.get("/api/v1/org-units", params={"parent": "QX99"}, headers=headers)
        if parent.status_code != 404 or _same_shape(parent.json()["detail"], "QX02") != _same_shape(nowhere.json()["detail"], "QX99"):
            failures.append(f"{username}: GET /api/v1/org-units?parent=QX02 → {parent.status_code} {parent.text[:200]}")
    assert failures == [], "\n".join(failures)
    assert await w.snapshot() == before, "a refused request changed a QX02 object"


async def test_list_endpoints_do_not_leak_other_townships(world: World) -> None:
    w = world
    await approve_list(w)
    qx02 = set(w.ids.values())
    headers = await w.as_("qx01-liaison")

    campaigns = await ok(await w.client.get("/api/v1/campaigns", headers=headers))
    assert [(c["id"], c["township"]) for c in campaigns["items"]] == [(w.qx01_campaign, "QX01")]
    assert campaigns["total"] == 1
    filtered = await ok(await w.client.get("/api/v1/campaigns", params={"township": "QX02"}, headers=headers))
    assert (filtered["items"], filtered["total"]) == ([], 0)

    submissions = await ok(await w.client.get("/api/v1/submissions", headers=headers))
    assert submissions["items"] == []
    by_campaign = await ok(await w.client.get("/api/v1/submissions", params={"campaign": w.ids["campaign"]}, headers=headers))
    assert by_campaign["items"] == []

    villages = await ok(await w.client.get("/api/v1/org-units", params={"kind": "village", "limit": 1000}, headers=headers))
    codes = [v["code"] for v in villages["items"]]
    assert len(codes) == 10 and villages["total"] == 10
    assert all(c.startswith("QX01") and v["parent"] == "QX01" for c, v in zip(codes, villages["items"], strict=True))

    rectifications = await ok(await w.client.get("/api/v1/rectifications", headers=headers))
    assert rectifications["items"] == []
    by_campaign = await ok(await w.client.get("/api/v1/rectifications", params={"campaign": w.ids["campaign"]}, headers=headers))
    assert by_campaign["items"] == []
    for username in ("qx01-secretary", "qx03-secretary"):
        queue = await ok(await w.client.get("/api/v1/reviews/queue", headers=await w.as_(username)))
        assert queue["items"] == [], username
    todos = await ok(await w.client.get("/api/v1/todos", headers=headers))
    assert todos["items"] and not {t["campaign_id"] for t in todos["items"]} & {w.ids["campaign"]}
    assert not {t["submission_id"] for t in todos["items"]} & qx02

    # The observer, whose contact townships are QX01 and QX02, sees both and nothing else.
    observer = await w.as_("observer")
    seen = await ok(await w.client.get("/api/v1/campaigns", headers=observer))
    # (QX02 also has the 督办 desk's two container campaigns of its assigned item)
    assert sorted({c["township"] for c in seen["items"]}) == ["QX01", "QX02"]
    townships = await ok(await w.client.get("/api/v1/org-units", params={"kind": "township"}, headers=observer))
    assert [t["code"] for t in townships["items"]] == ["QX01", "QX02"]
    assert (await w.client.get("/api/v1/org-units", params={"parent": "QX03"}, headers=observer)).status_code == 404


async def test_roles_inside_the_township(world: World) -> None:
    w = world
    c = w.client
    ids = w.ids
    liaison, secretary = await w.as_("qx02-liaison"), await w.as_("qx02-secretary")
    observer, county = await w.as_("observer"), await w.as_("county-reviewer")
    launch = {"definition": "five_good_model_site", "township": "QX02", "year": 2026}

    def refused(response: httpx.Response) -> None:
        assert response.status_code == 403, f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
        assert response.headers["content-type"].startswith("application/problem+json")
        assert re.search(r"[\u4e00-\u9fff]", response.json()["detail"])

    # The liaison may neither approve its own report nor launch campaigns.
    refused(await c.post(f"/api/v1/submissions/{ids['quarterly']}/decisions", headers=liaison,
                         json={"decision": "approve", "version": await w.version("quarterly")}))
    refused(await c.post("/api/v1/campaigns", headers=liaison, json=launch))
    refused(await c.post("/api/v1/campaigns/batch", headers=liaison, json={"definition": "five_good_model_site", "year": 2026}))

    # The observer reads QX02's objects but changes nothing.
    for path in (f"/api/v1/campaigns/{ids['campaign']}", f"/api/v1/submissions/{ids['quarterly']}",
                 f"/api/v1/attachments/{ids['attachment']}"):
        assert (await c.get(path, headers=observer)).status_code == 200, path
    download = await c.get(f"/api/v1/attachments/{ids['attachment']}", headers=observer)
    assert (download.content, download.headers["content-type"]) == (PDF, "application/pdf")
    draft_version, quarterly_version = await w.version("draft"), await w.version("quarterly")
    refused(await c.patch(f"/api/v1/submissions/{ids['draft']}", headers=observer,
                          json={"version": draft_version, "data": {"basic_situation": "观察员改的"}}))
    refused(await c.post(f"/api/v1/submissions/{ids['draft']}/submit", headers=observer, json={"version": draft_version}))
    refused(await c.post(f"/api/v1/submissions/{ids['draft']}/attachments", headers=observer,
                         files={"file": ("x.pdf", PDF, "application/pdf")}))
    refused(await c.post(f"/api/v1/submissions/{ids['quarterly']}/withdraw", headers=observer,
                         json={"version": await w.version("quarterly")}))
    refused(await c.post(f"/api/v1/submissions/{ids['quarterly']}/decisions", headers=observer,
                         json={"decision": "approve", "version": await w.version("quarterly")}))
    refused(await c.post(f"/api/v1/submissions/{ids['list']}/veto", headers=observer,
                         json={"check": "verified", "comment": "不同意", "version": await w.version("list")}))
    refused(await c.post("/api/v1/campaigns", headers=observer, json=launch))
    assert (await w.version("draft"), await w.version("quarterly")) == (draft_version, quarterly_version)

    # The county reviewer may not decide on the weak-village list: its chain level's role is admin.
    refused(await c.post(f"/api/v1/submissions/{ids['list']}/decisions", headers=county,
                         json={"decision": "approve", "version": await w.version("list")}))
    refused(await c.post(f"/api/v1/submissions/{ids['list']}/decisions", headers=county,
                         json={"decision": "return", "comment": "名单不全", "version": await w.version("list")}))
    # Nor on a township level: the quarterly report waits for QX02's secretary first.
    refused(await c.post(f"/api/v1/submissions/{ids['quarterly']}/decisions", headers=county,
                         json={"decision": "approve", "version": await w.version("quarterly")}))

    # The township secretary approves at the township level, then may not decide at the county level.
    first = await ok(await c.post(f"/api/v1/submissions/{ids['quarterly']}/decisions", headers=secretary,
                                  json={"decision": "approve", "version": await w.version("quarterly")}))
    assert (first["status"], first["current_level"]) == ("in_review", 1)
    refused(await c.post(f"/api/v1/submissions/{ids['quarterly']}/decisions", headers=secretary,
                         json={"decision": "approve", "version": first["version"]}))
    # ...and the liaison may no longer withdraw it once a level has approved (409, a state rule, not a 403).
    late = await c.post(f"/api/v1/submissions/{ids['quarterly']}/withdraw", headers=liaison, json={"version": first["version"]})
    assert late.status_code == 409
    final = await ok(await c.post(f"/api/v1/submissions/{ids['quarterly']}/decisions", headers=county,
                                  json={"decision": "approve", "version": first["version"]}))
    assert final["status"] == "approved"
    assert [(r["level_name"], r["decision"]) for r in final["reviews"]] == [("乡（镇）党委审核", "approve"), ("县委组织部审核", "approve")]

    # Only the administrator vetoes and acts on rectifications as the county; the township applies.
    await approve_list(w)
    refused(await c.post(f"/api/v1/submissions/{ids['list']}/veto", headers=county,
                         json={"check": "verified", "comment": "随意上报", "version": await w.version("list")}))
    refused(await c.post(f"/api/v1/rectifications/{ids['rectification']}/actions", headers=observer,
                         json={"action": "apply", "version": 1}))
    refused(await c.post(f"/api/v1/rectifications/{ids['rectification']}/actions", headers=secretary,
                         json={"action": "apply", "version": 1}))
    refused(await c.post(f"/api/v1/rectifications/{ids['rectification']}/actions", headers=liaison,
                         json={"action": "accept", "version": 1}))
    applied = await ok(await c.post(f"/api/v1/rectifications/{ids['rectification']}/actions", headers=liaison,
                                    json={"action": "apply", "version": 1}))
    assert applied["version"] == 2


async def test_org_units_parent_outside_scope_reads_like_an_unknown_code(anon: httpx.AsyncClient, login: Login) -> None:
    headers = await login(anon, "qx01-liaison")
    village = await anon.get("/api/v1/org-units", params={"parent": "QX02001"}, headers=headers)
    unknown = await anon.get("/api/v1/org-units", params={"parent": "QX02999"}, headers=headers)
    assert unknown.status_code == 404
    assert village.status_code == 404, village.text
    assert _same_shape(village.json()["detail"], "QX02001") == _same_shape(unknown.json()["detail"], "QX02999")
