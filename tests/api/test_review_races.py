"""Concurrent decisions on one submission: exactly one wins, the others get 409, never a 500 (SQLite and
PostgreSQL). The service calls are held at a barrier so the requests really overlap inside the handlers."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from core.clock import CHINA_TZ, FakeClock
from core.db import get_engine
from domain.errors import Conflict
from models import AuditEvent, Obligation, OutboxMessage, Review, Submission, SubmissionRound, User
from tasks import review as service
from tasks.audit import verify_chain
from tasks.launch import launch_one
from tests.support.world import as_user

API = "/api/v1"
REPORT = {"basic_situation": "全镇后进村整顿有序推进", "results": "新发展党员3名", "main_problems": "个别村班子不团结",
          "next_steps": "下季度完成换届调整"}
NOW = dt.datetime(2025, 12, 10, 9, tzinfo=CHINA_TZ)


def hold_at_barrier(monkeypatch: pytest.MonkeyPatch, name: str, parties: int) -> dict[str, int]:
    """Make ``tasks.review.<name>`` wait until ``parties`` callers are inside it; records the peak overlap."""
    real: Callable[..., Any] = getattr(service, name)
    barrier = threading.Barrier(parties, timeout=10)
    lock = threading.Lock()
    seen = {"inside": 0, "peak": 0}

    def held(*args: Any, **kwargs: Any) -> Any:
        with lock:
            seen["inside"] += 1
            seen["peak"] = max(seen["peak"], seen["inside"])
        try:
            barrier.wait()
            return real(*args, **kwargs)
        finally:
            with lock:
                seen["inside"] -= 1

    monkeypatch.setattr(service, name, held)
    return seen


def launch_2025(engine: Engine) -> int:
    """The 2025 weak-village campaign of QX01 (launched through the task the Prefect flow runs); its Q4 report."""
    outcome = launch_one(engine, "weak_village_rectification", "QX01", 2025, dt.datetime(2025, 1, 2, 9, tzinfo=CHINA_TZ))
    assert outcome.status == "created"
    with Session(engine) as s:
        return s.exec(select(Obligation.id).where(
            Obligation.campaign_id == outcome.campaign_id, Obligation.period == "2025Q4",
            Obligation.kind == "quarterly_report")).one() or 0


def quarterly_obligation(clock: FakeClock) -> int:
    obligation_id = launch_2025(get_engine())
    clock.set(NOW)
    return obligation_id


async def at_county_level(c: httpx.AsyncClient, login: Any, clock: FakeClock) -> dict[str, Any]:
    """A 2025 Q4 quarterly report of QX01 approved by its township, now waiting at the county level."""
    obligation_id = quarterly_obligation(clock)
    r = await c.post(f"{API}/submissions", headers=await login(c, "qx01-liaison"),
                     json={"obligation_id": obligation_id, "data": REPORT, "submit": True})
    assert r.status_code == 201, r.text
    sub = r.json()
    r = await c.post(f"{API}/submissions/{sub['id']}/decisions", headers=await login(c, "qx01-secretary"),
                     json={"decision": "approve", "version": sub["version"]})
    assert r.status_code == 200, r.text
    sub = r.json()
    assert (sub["status"], sub["current_level"]) == ("in_review", 1)
    return sub


async def test_concurrent_approvals_one_wins(anon: httpx.AsyncClient, login: Any, clock: FakeClock,
                                             demo_county: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    c = anon
    sub = await at_county_level(c, login, clock)
    headers = [await login(c, "admin"), await login(c, "county-reviewer")]
    seen = hold_at_barrier(monkeypatch, "decide", 8)
    body = {"decision": "approve", "version": sub["version"]}
    responses = await asyncio.gather(*[
        c.post(f"{API}/submissions/{sub['id']}/decisions", json=body, headers=headers[i % 2]) for i in range(8)])
    assert seen["peak"] == 8  # the eight requests were inside the handler at the same time
    codes = Counter(r.status_code for r in responses)
    assert codes == {200: 1, 409: 7}, [r.text for r in responses]
    winner = next(r.json() for r in responses if r.status_code == 200)
    assert (winner["status"], winner["version"]) == ("approved", sub["version"] + 1)
    for r in responses:
        if r.status_code == 409:
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["errors"] == [{"field": "version", "message": "stale"}]

    with Session(demo_county) as s:
        row = s.get(Submission, sub["id"])
        assert row is not None and (row.status, row.version) == ("approved", sub["version"] + 1)
        reviews = s.exec(select(Review).where(Review.submission_id == sub["id"], Review.level == 1, Review.round == 1)).all()
        assert [r.decision for r in reviews] == ["approve"]
        assert s.exec(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "submission.approve", AuditEvent.subject_id == sub["id"])).one() == 2  # township + county
        assert s.get(Obligation, row.obligation_id).status == "met"  # type: ignore[union-attr]
        mails = s.exec(select(OutboxMessage.key).where(col(OutboxMessage.key).startswith(f"approve:{sub['id']}:"))).all()
        assert len(mails) == 1
        assert verify_chain(s).ok


async def test_concurrent_submits_of_one_draft(anon: httpx.AsyncClient, login: Any, clock: FakeClock,
                                               demo_county: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    c = anon
    obligation_id = quarterly_obligation(clock)
    liaison = await login(c, "qx01-liaison")
    r = await c.post(f"{API}/submissions", headers=liaison, json={"obligation_id": obligation_id, "data": REPORT})
    assert r.status_code == 201, r.text
    sub = r.json()
    seen = hold_at_barrier(monkeypatch, "submit_submission", 2)
    responses = await asyncio.gather(*[
        c.post(f"{API}/submissions/{sub['id']}/submit", json={"version": sub["version"]}, headers=liaison) for _ in range(2)])
    assert seen["peak"] == 2
    assert sorted(r.status_code for r in responses) == [200, 409], [r.text for r in responses]
    with Session(demo_county) as s:
        row = s.get(Submission, sub["id"])
        assert row is not None and (row.status, row.round, row.version) == ("in_review", 1, sub["version"] + 1)
        rounds = s.exec(select(SubmissionRound).where(SubmissionRound.submission_id == sub["id"])).all()
        assert [x.round for x in rounds] == [1]
        mails = s.exec(select(OutboxMessage.key).where(col(OutboxMessage.key).startswith(f"submitted:{sub['id']}:"))).all()
        assert mails == [f"submitted:{sub['id']}:1:0:{_user_id(s, 'qx01-secretary')}"]
        assert verify_chain(s).ok


def _user_id(s: Session, username: str) -> int:
    return s.exec(select(User.id).where(User.username == username)).one() or 0


async def test_concurrent_drafts_for_one_obligation(anon: httpx.AsyncClient, login: Any, clock: FakeClock, backend: str,
                                                    demo_county: Engine, monkeypatch: pytest.MonkeyPatch,
                                                    request: pytest.FixtureRequest) -> None:
    c = anon
    obligation_id = quarterly_obligation(clock)
    liaison = await login(c, "qx01-liaison")
    seen = hold_at_barrier(monkeypatch, "create_submission", 2)
    body = {"obligation_id": obligation_id, "data": REPORT}
    responses = await asyncio.gather(*[c.post(f"{API}/submissions", json=body, headers=liaison) for _ in range(2)])
    assert seen["peak"] == 2
    with Session(demo_county) as s:
        assert s.exec(select(func.count()).select_from(Submission)).one() == 1
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]


def test_concurrent_decisions_in_threads(demo_county: Engine) -> None:
    """The same race without HTTP: threads, each with its own session, calling tasks.review.decide."""
    engine = demo_county
    obligation_id = launch_2025(engine)

    with Session(engine, expire_on_commit=False) as s:
        sub = service.create_submission(s, as_user(s, "qx01-liaison"), NOW, obligation_id=obligation_id,
                                        subject=None, data=REPORT, submit=True)
        s.commit()
        sub = service.decide(s, as_user(s, "qx01-secretary"), NOW, sub.id or 0, decision="approve", comment=None,
                             version=sub.version)
        s.commit()
        sid, version = sub.id or 0, sub.version
    assert sub.current_level == 1

    barrier = threading.Barrier(8, timeout=10)
    results: list[str] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        with Session(engine, expire_on_commit=False) as s:
            principal = as_user(s, "admin" if i % 2 else "county-reviewer")
            s.commit()  # end the read transaction (on SQLite it holds the write lock)
            barrier.wait()
            try:
                service.decide(s, principal, NOW, sid, decision="approve", comment=None, version=version)
                s.commit()
                outcome = "ok"
            except Conflict:
                s.rollback()
                outcome = "conflict"
            except Exception as exc:  # anything else is the failure this test looks for
                s.rollback()
                outcome = f"error: {exc!r}"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert Counter(results) == {"ok": 1, "conflict": 7}, results
    with Session(engine) as s:
        row = s.get(Submission, sid)
        assert row is not None and (row.status, row.version) == ("approved", version + 1)
        reviews = s.exec(select(Review).where(Review.submission_id == sid, Review.level == 1, Review.round == 1)).all()
        assert len(reviews) == 1
        assert verify_chain(s).ok
