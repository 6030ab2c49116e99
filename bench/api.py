"""B4 "api": latency and throughput of duban's main read endpoints under 32 concurrent clients.

The server: a real uvicorn started as a subprocess (``uvicorn bench.api_app:create_bench_app --factory``,
no access log, keep-alive timeout 300 s, scheduler off) on a seeded database — the demo county of ``duban run`` (12 townships ×
10 villages, the demo accounts), every definition launched for the current year at the current time,
one tick run, and a few submissions per township sent for review, so every page has content.

Runs: SQLite with one uvicorn worker; PostgreSQL with 4 workers (a fresh database, migrated, dropped
afterwards).

duban: each endpoint as its user sees it, with a bearer token — campaign detail
(``GET /api/v1/campaigns/{id}``, admin), to-do list (``GET /api/v1/todos``, a township liaison), review
queue (``GET /api/v1/reviews/queue``, the county reviewer), dashboard (``GET /dashboard``, admin, HTML).

Baseline: ``GET /bench/bare`` in the same server (a plain ``def`` returning a constant, behind the same
middleware), run in rounds interleaved with the endpoints'. The figure compares the p99 latencies.

Load: one process, ``httpx.AsyncClient`` with 32 tasks issuing requests back to back over up to 32
keep-alive connections; the client's CPU share is reported, since it shares the 2 CPUs with the server.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import BenchDB, Figure, backends, temp_databases, use_database
from bench.memory import READINGS, ServerMemory
from core.net import free_port

CONCURRENCY = 32
TARGET_RATIO = 3.0
REPO = Path(__file__).resolve().parent.parent
SUBMISSIONS_PER_TOWNSHIP = 4
PASSWORD = "duban-demo-2027"

# (figure name, path or None for the campaign detail, user)
ENDPOINTS: tuple[tuple[str, str, str], ...] = (
    ("campaign detail", "/api/v1/campaigns/{campaign_id}", "admin"),
    ("to-do list", "/api/v1/todos", "qx01-liaison"),
    ("review queue", "/api/v1/reviews/queue", "county-reviewer"),
    ("dashboard", "/dashboard", "admin"),
)
BARE = "/bench/bare"


def endpoints() -> tuple[tuple[str, str, str], ...]:
    """The endpoints to measure: all, or those ``BENCH_API_ENDPOINTS`` names (comma-separated, e.g. ``dashboard``)."""
    wanted = {n.strip() for n in os.environ.get("BENCH_API_ENDPOINTS", "").split(",") if n.strip()}
    unknown = wanted - {name for name, _, _ in ENDPOINTS}
    if unknown:
        raise SystemExit(f"BENCH_API_ENDPOINTS: unknown {sorted(unknown)}; choose from {[n for n, _, _ in ENDPOINTS]}")
    return tuple(e for e in ENDPOINTS if not wanted or e[0] in wanted)


def requests_per_round(quick: bool) -> int:
    return int(os.environ.get("BENCH_API_REQUESTS", "32" if quick else "500"))


# ---- the database ----------------------------------------------------------------------------------


def submit_answer(session: Any, principal: Any, obligation: Any, now: dt.datetime, rng: random.Random) -> Any:
    """Answer one obligation as a township's liaison would: draft, evidence if the form has a file field,
    the form filled with plausible text (simulation.fill_form), submit. Returns the submission."""
    from domain.definitions import FieldType
    from models import Campaign, OrgUnit
    from simulation import fill_form
    from tasks import review
    from tasks.registry import definition_of

    campaign = session.get(Campaign, obligation.campaign_id)
    definition = definition_of(campaign)
    form = definition.form(definition.obligation(obligation.rule_key).form or "")
    sub = review.create_submission(session, principal, now, obligation_id=obligation.id, subject=None, data={})
    attachment_id = None
    if any(f.type is FieldType.FILE for f in form.fields):
        attachment_id = review.add_attachment(session, principal, now, sub.id or 0, filename="党委会议纪要.pdf",
                                              content_type="application/pdf", content=b"%PDF-1.4\n%%EOF\n").id
    township = session.get(OrgUnit, campaign.township_id)
    subject = session.get(OrgUnit, obligation.subject_id)
    villages = sorted(v.code for v in session.exec(_villages_of(campaign.township_id)))[:2]
    data = fill_form(definition, form.key, round_no=sub.round, township=township, subject=subject, villages=villages,
                     due_on=obligation.due_on, today=now.date(), attachment_id=attachment_id, rng=rng)
    sub = review.update_draft(session, principal, now, sub.id or 0, data, sub.version)
    return review.submit_submission(session, principal, now, sub.id or 0, sub.version)


def _villages_of(township_id: int) -> Any:
    from sqlmodel import select

    from models import OrgUnit

    return select(OrgUnit).where(OrgUnit.parent_id == township_id, OrgUnit.kind == "village")


def seed(db: BenchDB, now: dt.datetime) -> dict[str, Any]:
    """The demo county and accounts, every definition launched for ``now``'s year, one tick, and
    submissions in review; returns what was made (not timed)."""
    from sqlmodel import col, func, select

    from core.db import get_engine, session_scope
    from domain.errors import DubanError
    from models import Campaign, Obligation, Submission, User
    from tasks.accounts import principal_for
    from tasks.demo import seed_demo
    from tasks.launch import all_township_codes, launch_many
    from tasks.registry import get_definitions
    from tasks.tick import run_tick

    use_database(db.url)
    engine = get_engine()
    with session_scope(engine) as s:
        seed_demo(s, now, samples=False)
        codes = all_township_codes(s)
    for key, definition in sorted(get_definitions().items()):
        if definition.desk:  # the 督办 desk's containers are never launched (tasks.launch refuses them)
            continue
        items = launch_many(engine, key, codes, now.year, now)
        bad = [i for i in items if i["status"] != "created"]
        if bad:
            raise RuntimeError(f"seeding: {key} not launched for {bad[:3]}")
    run_tick(engine, now)

    rng = random.Random(2027)
    submitted = failed = 0
    with session_scope(engine) as s:
        liaisons = list(s.exec(select(User).where(User.role == "submitter")))
        targets = []
        for liaison in liaisons:
            obs = s.exec(select(Obligation).join(Campaign, col(Obligation.campaign_id) == Campaign.id)
                         .where(Campaign.township_id == liaison.org_unit_id,
                                col(Obligation.status).in_(["open", "missed"]), col(Obligation.opens_on) <= now.date())
                         .order_by(col(Obligation.due_on).desc()).limit(SUBMISSIONS_PER_TOWNSHIP)).all()
            targets += [(liaison.id, ob.id) for ob in obs]
    for user_id, ob_id in targets:
        try:
            with session_scope(engine) as s:
                user = s.get(User, user_id)
                assert user is not None
                submit_answer(s, principal_for(s, user), s.get(Obligation, ob_id), now, rng)
            submitted += 1
        except DubanError:
            failed += 1
    with session_scope(engine) as s:
        counts = {
            "campaigns": s.exec(select(func.count()).select_from(Campaign)).one(),
            "obligations": s.exec(select(func.count()).select_from(Obligation)).one(),
            "submissions_in_review": s.exec(select(func.count()).select_from(Submission)
                                            .where(Submission.status == "in_review")).one(),
            "submissions_refused_at_seeding": failed,
            "submitted_at_seeding": submitted,
        }
        campaign_id = s.exec(select(Campaign.id).order_by(col(Campaign.id))).first()
    counts["campaign_id"] = campaign_id or 0
    return counts


# ---- the server ------------------------------------------------------------------------------------



class Server:
    """``uvicorn bench.api_app:create_bench_app --factory`` in a child process on a free loopback port."""

    def __init__(self, db: BenchDB, workers: int, root: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DUBAN_DATABASE_URL": db.url,
            "DUBAN_SCHEDULER": "off",
            "DUBAN_PREFECT_WARMUP": "false",
            "DUBAN_SMTP_SINK": "false",
            "PYTHONPATH": str(REPO),
        }
        self.log = (root / f"uvicorn-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bench.api_app:create_bench_app", "--factory", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", str(workers), "--no-access-log", "--log-level", "warning",
             # uvicorn closes keep-alive connections idle for 5 s; a client reusing one just then reads
             # nothing (httpx.ReadError), which is a race of the load generator, not an answer of duban's
             "--timeout-keep-alive", "300"],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 90.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if httpx.get(self.base + BARE, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"uvicorn not ready after {timeout:.0f} s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# ---- the load --------------------------------------------------------------------------------------


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    wall_s: float = 0.0
    client_cpu_s: float = 0.0
    response_bytes: int = 0

    def add(self, other: Load) -> None:
        self.latencies += other.latencies
        self.errors.update(other.errors)
        self.wall_s += other.wall_s
        self.client_cpu_s += other.client_cpu_s
        self.response_bytes = other.response_bytes or self.response_bytes

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall_s if self.wall_s else 0.0

    def stats(self) -> dict[str, Any]:
        return {
            "requests": len(self.latencies),
            "p50_ms": round(self.quantile(0.50) * 1000, 2),
            "p99_ms": round(self.quantile(0.99) * 1000, 2),
            "max_ms": round(max(self.latencies) * 1000, 2),
            "requests_per_s": round(self.throughput, 1),
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors),
            "client_cpu_share": round(self.client_cpu_s / self.wall_s, 2) if self.wall_s else None,
            "response_bytes": self.response_bytes,
        }


async def hammer(client: Any, path: str, headers: dict[str, str], requests: int,
                 concurrency: int = CONCURRENCY) -> Load:
    """``requests`` GETs of ``path`` by ``concurrency`` tasks, back to back; non-2xx answers are errors."""
    import httpx

    load = Load()
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            start = time.perf_counter()
            try:
                response = await client.get(path, headers=headers)
                if not 200 <= response.status_code < 300:
                    load.errors[str(response.status_code)] += 1
                load.response_bytes = len(response.content)
            except httpx.HTTPError as exc:
                load.errors[type(exc).__name__] += 1
            load.latencies.append(time.perf_counter() - start)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    load.wall_s = time.perf_counter() - wall
    load.client_cpu_s = time.process_time() - cpu
    return load


async def _tokens(client: Any) -> dict[str, str]:
    out = {}
    for user in sorted({u for _, _, u in ENDPOINTS}):
        response = await client.post("/api/v1/auth/token", json={"username": user, "password": PASSWORD})
        response.raise_for_status()
        out[user] = response.json()["access_token"]
    return out


async def measure(base: str, campaign_id: int, per_round: int, rounds: int) -> dict[str, dict[str, Load]]:
    """Per endpoint: ``rounds`` rounds of ``per_round`` requests, each round preceded by a round of the
    bare endpoint (so both see the same machine). Returns {endpoint: {"duban": Load, "bare": Load}}."""
    import httpx

    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        tokens = await _tokens(client)
        results: dict[str, dict[str, Load]] = {}
        for name, template, user in endpoints():
            path = template.format(campaign_id=campaign_id)
            headers = {"Authorization": f"Bearer {tokens[user]}"}
            # warm-up (not counted): connections, caches, every worker's code paths
            await hammer(client, BARE, {}, CONCURRENCY)
            await hammer(client, path, headers, CONCURRENCY)
            duban, bare = Load(), Load()
            for _ in range(rounds):
                bare.add(await hammer(client, BARE, {}, per_round))
                duban.add(await hammer(client, path, headers, per_round))
            results[name] = {"duban": duban, "bare": bare}
        async_bare = await hammer(client, "/bench/bare-async", {}, per_round)
        results["(bare async)"] = {"duban": async_bare, "bare": async_bare}
    return results


def run_config(backend: str, workers: int, root: Path, quick: bool) -> list[Figure]:
    from core.clock import CHINA_TZ

    now = dt.datetime.now(CHINA_TZ)
    per_round = requests_per_round(quick)
    rounds = 1 if quick else 3
    with temp_databases(backend, root) as dbs:
        db = dbs.create("api")
        seeded = seed(db, now)
        from core.db import reset_engines

        reset_engines()
        server = Server(db, workers, root)
        try:
            server.wait_ready()
            memory = ServerMemory(server.proc.pid, workers)  # B7: the same process idle, then at its peak
            load_before = os.getloadavg()
            results = asyncio.run(measure(server.base, int(seeded["campaign_id"]), per_round, rounds))
            load_after = os.getloadavg()
            memory.take_peak()
            try:
                READINGS[backend] = memory.reading(workers, rounds, per_round)
            except RuntimeError as exc:  # B4's own figures stand; B7 reports the reading lost
                READINGS[backend] = {"lost": str(exc)}
        finally:
            server.stop()
        server_log = Path(server.log.name).read_text(encoding="utf-8", errors="replace")
    label = f"{backend}, {workers} worker{'s' if workers > 1 else ''}"
    async_bare = results.pop("(bare async)")["duban"].stats()
    figures = []
    for name, loads in results.items():
        duban, bare = loads["duban"], loads["bare"]
        figures.append(Figure(
            benchmark="B4",
            name=f"api p99 {name}",
            backend=label,
            duban_s=duban.quantile(0.99),
            baseline_s=bare.quantile(0.99),
            target_ratio=TARGET_RATIO,
            details={
                "endpoint": next(t for n, t, _ in ENDPOINTS if n == name),
                "user": next(u for n, _, u in ENDPOINTS if n == name),
                "workers": workers,
                "concurrency": CONCURRENCY,
                "duban": duban.stats(),
                "bare": bare.stats(),
                "bare_async": async_bare,
                "zero_errors": not duban.errors and not bare.errors,
                "seeded": seeded,
                "rounds": rounds,
                "requests_per_round": per_round,
                "loadavg_1m_before_after": [round(load_before[0], 1), round(load_after[0], 1)],
                **({"server_log_tail": server_log[-4000:]} if duban.errors or bare.errors else {}),
            },
        ))
    return figures


def run(root: Path, quick: bool) -> list[Figure]:
    figures = []
    for backend in backends():
        figures += run_config(backend, 1 if backend == "sqlite" else 4, root, quick)
    return figures


def summary(figure: Figure) -> str:
    d = figure.details
    a, b = d["duban"], d["bare"]
    errors = "" if d["zero_errors"] else f"; ERRORS duban {a['error_kinds']} bare {b['error_kinds']}"
    return (
        f"{figure.figure}: {d['endpoint']} as {d['user']} ({a['response_bytes']:,} bytes), {a['requests']} requests × {d['concurrency']} clients: "
        f"p50 {a['p50_ms']} ms, p99 {a['p99_ms']} ms, {a['requests_per_s']} req/s; bare p50 {b['p50_ms']} ms, "
        f"p99 {b['p99_ms']} ms, {b['requests_per_s']} req/s; client CPU {a['client_cpu_share']:.0%}/"
        f"{b['client_cpu_share']:.0%}{errors}"
    )
