"""B1 "launch": the weak-village rectification of 2025 for N townships through the real batch path.

duban: ``flows.launch.launch_for_townships`` (a Prefect flow; one task per chunk of townships, one
transaction per township) on a database holding N townships of 10 villages each. Only the launch is
timed, not the org import.

Baseline: the very rows duban wrote (campaigns, stages, obligations and the launch's audit events, ids
included), read back from duban's database and written into a fresh, identically migrated one with raw DBAPI
``executemany`` in a single transaction (sqlite3 / psycopg), with the same connection settings as duban's
engine — plus Prefect's own cost of a flow of the same shape (a flow awaiting one no-op task per chunk, the
median of three runs right after duban's launch in the same sample). The launch runs as a Prefect flow because
the stack asks for one; what that flow costs with no work in it is measured, added to the baseline (as B6 (a)
does for one township) and printed beside the ratio, with the ratio against the bare insert
(``ratio_to_raw_insert``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import statistics
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.common import BenchDB, Figure, backends, temp_databases, use_database

DEFINITION = "weak_village_rectification"
YEAR = 2025
NOW = dt.datetime(2025, 1, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
SEED = 2027
VILLAGES_PER_TOWNSHIP = 10
TARGET_RATIO = 3.0
TABLES = ("campaigns", "stages", "obligations", "audit_events")
FLOOR_RUNS = 3

Rows = tuple[list[str], list[tuple[Any, ...]]]


def township_count() -> int:
    return int(os.environ.get("BENCH_TOWNSHIPS", "1000"))


def seed_county(db: BenchDB, townships: int, villages: int = VILLAGES_PER_TOWNSHIP) -> None:
    """Make ``db`` duban's database and import the generated county into it (not timed)."""
    from core.db import get_engine, session_scope
    from tasks.org import demo_county_rows, import_org_units

    use_database(db.url)
    with session_scope(get_engine()) as session:
        import_org_units(session, demo_county_rows(SEED, townships=townships, villages_per_township=villages))


def run_launch() -> tuple[float, list[dict[str, Any]]]:
    """The timed part: the batch launch flow, exactly as the API and CLI start it."""
    from flows.launch import launch_for_townships

    start = time.perf_counter()
    items = asyncio.run(launch_for_townships(DEFINITION, YEAR, now=NOW))
    return time.perf_counter() - start, items


def noop_launch_flow() -> Any:
    """Prefect's part of a batch launch with no work: a flow awaiting ``chunks`` no-op tasks one after another,
    as ``launch_for_townships`` awaits one ``launch_chunk`` task per chunk."""
    from prefect import flow, task

    @task(name="noop_chunk")
    async def noop_chunk() -> list[dict[str, Any]]:
        return []

    @flow(name="noop_launch", validate_parameters=False)
    async def noop_launch(chunks: int) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for _ in range(chunks):
            items.extend(await noop_chunk())
        return items

    return noop_launch


def prefect_floor(chunks: int) -> float:
    """Seconds Prefect takes for the launch flow's shape with no work in it (median of ``FLOOR_RUNS``)."""
    noop = noop_launch_flow()
    times = []
    for _ in range(FLOOR_RUNS):
        start = time.perf_counter()
        asyncio.run(noop(chunks))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def warm_up(root: Path) -> float:
    """Start Prefect's ephemeral server and load duban's code paths with a tiny launch (not counted)."""
    start = time.perf_counter()
    with temp_databases("sqlite", root) as dbs:
        seed_county(dbs.create("warmup"), townships=2, villages=2)
        _, items = run_launch()
        if any(i["status"] != "created" for i in items):
            raise RuntimeError(f"warm-up launch failed: {items}")
    return time.perf_counter() - start


def read_rows(db: BenchDB, table: str) -> Rows:
    conn = db.connect()
    try:
        cur = conn.execute(f"SELECT * FROM {table} ORDER BY id")
        columns = [d[0] for d in cur.description]
        rows = [tuple(r) for r in cur.fetchall()]
        conn.rollback()
    finally:
        conn.close()
    if db.backend == "postgresql":
        from psycopg.types.json import Json

        # psycopg hands JSON columns back as Python lists; send them as JSON again.
        rows = [tuple(Json(v) if isinstance(v, list | dict) else v for v in row) for row in rows]
    return columns, rows


def insert_sql(db: BenchDB, table: str, columns: list[str]) -> str:
    cols = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join([db.placeholder] * len(columns))
    return f"INSERT INTO {table} ({cols}) VALUES ({marks})"


def bulk_insert(db: BenchDB, data: dict[str, Rows], tables: tuple[str, ...]) -> float:
    """Write ``tables`` of ``data`` into ``db`` in one transaction; returns the seconds it took."""
    statements = [(insert_sql(db, t, data[t][0]), data[t][1]) for t in tables]
    start = time.perf_counter()
    conn = db.connect()
    try:
        db.begin(conn)
        cur = conn.cursor()
        for sql, rows in statements:
            cur.executemany(sql, rows)
        db.commit(conn)
    finally:
        conn.close()
    return time.perf_counter() - start


def count_rows(db: BenchDB, table: str) -> int:
    conn = db.connect()
    try:
        (n,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        conn.rollback()
    finally:
        conn.close()
    return int(n)


def repeat_count() -> int:
    # Three samples unless BENCH_REPEAT says otherwise: a sample takes seconds, and Prefect's part of it (flow and
    # task runs against its server) moves by ±0.2 s from one run to the next — as much as the launch's own work.
    return max(1, int(os.environ.get("BENCH_REPEAT", "3")))


def chunks(townships: int) -> int:
    from core.settings import get_settings

    return -(-townships // get_settings().launch_chunk_size)


def sample(backend: str, root: Path, townships: int) -> tuple[float, float, float, dict[str, int]]:
    """One measurement on fresh databases: (duban seconds, raw insert seconds, Prefect's floor in seconds, rows
    written per table)."""
    from core.db import reset_engines

    with temp_databases(backend, root) as dbs:
        duban_db = dbs.create("duban")
        baseline_db = dbs.create("baseline")

        seed_county(duban_db, townships)
        duban_s, items = run_launch()
        floor_s = prefect_floor(chunks(townships))
        reset_engines()
        bad = [i for i in items if i["status"] != "created"]
        if len(items) != townships or bad:
            raise RuntimeError(f"duban launched {len(items)} townships, {len(bad)} not created: {bad[:3]}")

        data = {t: read_rows(duban_db, t) for t in ("org_units", *TABLES)}
        bulk_insert(baseline_db, data, ("org_units",))  # the baseline's county, not timed
        insert_s = bulk_insert(baseline_db, data, TABLES)
        written = {t: len(data[t][1]) for t in TABLES}
        copied = {t: count_rows(baseline_db, t) for t in TABLES}
        if copied != written:
            raise RuntimeError(f"baseline wrote {copied}, expected {written}")
    return duban_s, insert_s, floor_s, written


def run_backend(backend: str, root: Path, townships: int, repeat: int = 1) -> Figure:
    """B1 on one backend; with ``repeat`` > 1 the medians of that many samples are reported."""
    from core.settings import get_settings

    samples = [sample(backend, root, townships) for _ in range(repeat)]
    duban_s = statistics.median(s[0] for s in samples)
    insert_s = statistics.median(s[1] for s in samples)
    floor_s = statistics.median(s[2] for s in samples)
    written = samples[0][3]
    total = sum(written.values())
    return Figure(
        benchmark="B1",
        name="launch vs raw insert + Prefect floor",
        backend=backend,
        duban_s=duban_s,
        baseline_s=insert_s + floor_s,
        target_ratio=TARGET_RATIO,
        details={
            "definition": DEFINITION,
            "year": YEAR,
            "townships": townships,
            "villages_per_township": VILLAGES_PER_TOWNSHIP,
            "chunk_size": get_settings().launch_chunk_size,
            "chunks": chunks(townships),
            "rows_written": {**written, "total": total},
            "raw_insert_s": round(insert_s, 4),
            "prefect_floor_s": round(floor_s, 4),
            "ratio_to_raw_insert": round(duban_s / insert_s, 2),
            "duban_less_floor_s": round(duban_s - floor_s, 4),
            "duban_rows_per_s": round(total / duban_s),
            "baseline_rows_per_s": round(total / insert_s),
            "repeat": repeat,
            "samples": [{"duban_s": round(d, 4), "raw_insert_s": round(b, 4), "prefect_floor_s": round(f, 4)}
                        for d, b, f, _ in samples],
        },
    )


def run(root: Path) -> list[Figure]:
    townships = township_count()
    warmup_s = warm_up(root)
    figures = []
    for backend in backends():
        figure = run_backend(backend, root, townships, repeat_count())
        figure.details["prefect_warmup_s"] = round(warmup_s, 2)
        figures.append(figure)
    return figures


def summary(figure: Figure) -> str:
    d = figure.details
    rows = d["rows_written"]
    return (
        f"{figure.figure}: {d['townships']} townships × {d['villages_per_township']} villages, "
        f"{rows['total']:,} rows written ({rows['campaigns']:,} campaigns, {rows['stages']:,} stages, "
        f"{rows['obligations']:,} obligations, {rows['audit_events']:,} audit events); duban {figure.duban_s:.3f} s "
        f"= Prefect's floor {d['prefect_floor_s']:.3f} s (the flow with {d['chunks']} no-op chunk tasks) + {d['duban_less_floor_s']:.3f} s; "
        f"raw insert {d['raw_insert_s']:.3f} s ({d['ratio_to_raw_insert']}× of it without the floor)"
    )
