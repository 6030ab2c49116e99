"""Fuzzing the JSON API from its own OpenAPI schema (schemathesis): no input makes it fail with a 5xx, and every
answer, success or refusal, is what the schema documents (status code, content type, body, headers).

Every operation gets ``EXAMPLES`` positive cases (input the schema allows) and ``EXAMPLES`` negative cases (input
that breaks it), each sent as the county administrator or as a township liaison. Both use bearer tokens, which
need no CSRF token (only cookie sessions do). The county has a launched campaign whose list is overdue and
escalated (so escalations and official documents exist), a draft and a report in review; half the positive cases
put ids of existing rows (and real definition keys and ledger names) in the path, so fuzzed decisions, vetoes and
interviews reach the task code, not only the 404. Operations without parameters get their two cases, one per role.

Reproducible and bounded: hypothesis runs derandomized (a fixed seed per test) with no example database and no
deadline. ``make test`` runs 6 cases per operation and mode on both backends (about 1,300 cases for the 120
operations on each; 10 took 40 s a backend), ``make soak`` 25 (``DUBAN_FUZZ_EXAMPLES``, tests/support/soak.py):
10,520 cases on the two.

All of schemathesis's response checks run. ``positive_data_acceptance`` also accepts 415 and 422: some rules cannot
be written in a JSON schema (a definition key or township code must exist, text must not hold control characters,
an upload's bytes must match its declared type), and the app answers those with a problem+json that says what to fix.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.python import asgi
from sqlalchemy.engine import Engine

from api.routes import campaigns as campaigns_routes
from core.clock import FakeClock
from tasks.accounts import DEMO_PASSWORD
from tests.support.clock import at
from tests.support.soak import record, size
from tests.support.stationing import approved_plan
from tests.support.tick import tick
from tests.support.world import launch, launch_many_without_prefect, launch_without_prefect

EXAMPLES = size("DUBAN_FUZZ_EXAMPLES", 6)  # per operation and generation mode (make soak: more)
ROLES = ("admin", "qx01-liaison")
QUARTERLY = {"basic_situation": "全镇后进薄弱村3个。", "results": "调整村班子1个。", "main_problems": "集体经济薄弱。",
             "next_steps": "加强培训。"}
# Path parameters that name rows or keys which exist: random ids up to 2**31 - 1 almost never do.
REAL_VALUES: dict[str, st.SearchStrategy[Any]] = {
    **{f"{kind}_id": st.integers(1, 12) for kind in (
        "attachment", "campaign", "case", "document", "escalation", "outbox", "rectification", "submission",
        "bulletin", "item", "obligation", "recipient", "request", "report", "programme")},
    "year": st.sampled_from([2025]),
    "township": st.sampled_from(["QX01"]),
    "village": st.sampled_from(["QX01001"]),
    "month": st.sampled_from(["3", "11"]),
    "cadre": st.sampled_from(["QX01-C1"]),
    "code": st.sampled_from(["QX01-C1", "QXD01-01"]),
    "unit": st.sampled_from(["QXD01", "QXD06"]),
    "key": st.sampled_from(["weak_village_rectification", "five_good_model_site", "cadres_in_villages"]),
    "name": st.sampled_from(["campaigns", "obligations", "rectifications", "escalations"]),
    "username": st.sampled_from(["qx01-liaison", "admin"]),
}
CONFIG = {"checks": {"positive_data_acceptance": {
    "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "415", "422", "429"]}}}


def _seed(engine: Engine, clock: FakeClock, app: Any) -> dict[str, dict[str, str]]:
    """QX01's 2025 weak-village rectification on 10 Dec 2025 (list overdue and escalated — so no village owes a
    plan —, a draft of the 2026 Q1 report, the Q4 report in review); returns the Authorization header of each role."""
    launch(engine, ["QX01"], at(dt.date(2025, 1, 2)))
    approved_plan(engine, 2025, {"QX01001": ("QX01", ["QX01-C1"]), "QX01002": ("QXD01", ["QXD01-01"])},
                  arrived_on=dt.date(2025, 1, 6))  # programme 1 and its 2025 plan
    tick(engine, at(dt.date(2025, 10, 20)))
    clock.set(at(dt.date(2025, 12, 10)))
    with asgi.get_client(app) as http:
        headers = {}
        for username in ROLES:
            r = http.post("/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD})
            assert r.status_code == 200, r.text
            headers[username] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        campaign = http.get("/api/v1/campaigns?township=QX01", headers=headers["admin"]).json()["items"][0]["id"]
        obligations = http.get(f"/api/v1/campaigns/{campaign}", headers=headers["admin"]).json()["obligations"]
        by_key = {o["period"] if o["kind"] == "quarterly_report" else o["kind"]: o["id"] for o in obligations}
        draft = http.post("/api/v1/submissions", headers=headers["qx01-liaison"], json={
            "obligation_id": by_key["2026Q1"], "data": {"basic_situation": "全镇后进村整顿有序推进"}})
        report = http.post("/api/v1/submissions", headers=headers["qx01-liaison"], json={
            "obligation_id": by_key["2025Q4"], "data": QUARTERLY, "submit": True})
        assert draft.status_code == 201 and report.status_code == 201, (draft.text, report.text)
        escalations = http.get("/api/v1/escalations", headers=headers["admin"]).json()
        assert escalations["total"] > 0, escalations
    return headers


def _fuzz(operation: Any, mode: schemathesis.GenerationMode, headers: dict[str, dict[str, str]],
          failures: dict[str, str], statuses: Counter[tuple[str, int]], tried: Counter[str]) -> None:
    """``EXAMPLES`` cases of ``operation`` in ``mode``; every failed check is collected, not raised, so one run
    reports all of them (each with schemathesis's report and a curl command to reproduce it)."""

    @given(case=operation.as_strategy(mode), role=st.sampled_from(ROLES), real=st.booleans(), data=st.data())
    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case: Any, role: str, real: bool, data: st.DataObject) -> None:
        if real and mode.is_positive:  # half the valid cases name rows that exist
            for name in case.path_parameters or {}:
                if name in REAL_VALUES:
                    case.path_parameters[name] = data.draw(REAL_VALUES[name])
        tried[operation.label] += 1
        try:
            response = case.call(headers=headers[role])
            statuses[(operation.label, response.status_code)] += 1
            case.validate_response(response, headers=headers[role])
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected, reported by the caller
            for sub in getattr(exc, "exceptions", None) or [exc]:
                first = " ".join(str(sub).split())[:240]
                failures.setdefault(f"{operation.label} [{mode.value}, {role}] {type(sub).__name__}: {first}",
                                    str(exc)[:2000])

    with contextlib.suppress(Unsatisfiable):  # no negative variant exists for some operations' parameters
        fuzz()


def test_the_api_survives_fuzzing_and_answers_as_documented(demo_county: Engine, backend: str, clock: FakeClock,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from api.app import create_app

    monkeypatch.setattr(campaigns_routes, "launch_campaign", launch_without_prefect)
    monkeypatch.setattr(campaigns_routes, "launch_for_townships", launch_many_without_prefect)
    app = create_app()
    headers = _seed(demo_county, clock, app)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=schemathesis.Config.from_dict(CONFIG))

    failures: dict[str, str] = {}  # one line per distinct failure → the first full report of it
    statuses: Counter[tuple[str, int]] = Counter()
    tried: Counter[str] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        has_input = bool(operation.body) or any(True for _ in operation.iter_parameters())
        modes = [schemathesis.GenerationMode.POSITIVE] + ([schemathesis.GenerationMode.NEGATIVE] if has_input else [])
        for mode in modes:
            _fuzz(operation, mode, headers, failures, statuses, tried)

    total = sum(tried.values())
    record("fuzz", backend, test="schemathesis", operations=len(operations), cases=total,
           server_errors=sum(n for (_, status), n in statuses.items() if status >= 500), failed_checks=len(failures),
           error=next(iter(failures), None))
    assert not failures, "\n\n".join(f"{key}\n{report}" for key, report in failures.items())
    assert total >= EXAMPLES * 3 // 2 * len(operations), f"only {total} cases for {len(operations)} operations"
    # An operation without parameters has only two distinct cases (one per role); every other one got its share.
    assert all(tried[op.label] >= EXAMPLES for op in operations if op.body or any(True for _ in op.iter_parameters())), tried
    assert not [key for key in statuses if key[1] >= 500]
    # The fuzzing got past authentication into the handlers: half the operations answered 2xx at least once (27 of
    # 48 when written; random bodies seldom carry a row's current version or an existing definition key).
    succeeded = {label for (label, status) in statuses if 200 <= status < 300}
    assert len(succeeded) >= len(operations) // 2, sorted({op.label for op in operations} - succeeded)
    # Whatever was accepted, the audit trail is still one unbroken hash chain.
    with asgi.get_client(app) as http:
        verified = http.get("/api/v1/audit/verify", headers=headers["admin"]).json()
    assert verified["ok"], verified
    print(f"\nfuzzed {len(operations)} operations with {total} cases ({len(succeeded)} operations reached 2xx); "
          f"{sum(n for (_, s), n in statuses.items() if s < 300)} answered 2xx, "
          f"{sum(n for (_, s), n in statuses.items() if 400 <= s < 500)} answered 4xx")
