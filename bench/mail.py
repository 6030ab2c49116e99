"""B3 "mail": outbox delivery to a local SMTP server against a raw aiosmtplib loop.

The server: aiosmtpd (``Controller``, as ``notifications.sink`` starts it) in a separate process, so it
does not share the bench's interpreter lock; its handler accepts and counts every message.

duban: ``BENCH_MAIL_MESSAGES`` pending outbox rows (a rendered reminder mail each, written untimed with
raw inserts) delivered by ``notifications.delivery.deliver_pending`` with ``notifications.mailer.SmtpMailer``
(one SMTP connection per batch, through ``SmtpMailer.session``), called in a loop until the outbox is empty; with
``BENCH_MAIL_CONCURRENCY`` > 1 that many such loops run side by side on the event loop.

Baseline: the same messages (the MIME messages ``build_email`` makes of the same rows, built before the
clock starts) sent with ``aiosmtplib.send`` by as many concurrent loops, one connection per message, no
database. The target is duban's throughput ≥ 70 % of the baseline's, i.e. a time ratio ≤ 1/0.7.

A second figure, ``mail-1conn``, compares like with like: the same messages sent by as many loops, each
over one ``aiosmtplib.SMTP`` connection it keeps open (``send_message`` per message, QUIT at the end).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import BenchDB, Figure, backends, temp_databases, use_database

NOW = dt.datetime(2026, 6, 24, 9, 0, tzinfo=dt.UTC)
TARGET_THROUGHPUT = 0.70
BATCH = 200  # deliver_notifications' default batch


def message_count(quick: bool) -> int:
    return int(os.environ.get("BENCH_MAIL_MESSAGES", "300" if quick else "2000"))


def concurrency() -> int:
    return max(1, int(os.environ.get("BENCH_MAIL_CONCURRENCY", "1")))


# ---- the SMTP server (a child process) ------------------------------------------------------------------


def serve(port: int) -> None:
    """``python -m bench.mail PORT``: accept and count messages until stdin closes."""
    from aiosmtpd.controller import Controller

    class Counting:
        received = 0

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
            Counting.received += 1
            return "250 OK"

    controller = Controller(Counting(), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()
        print(Counting.received, flush=True)


class SmtpServer:
    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.mail", str(self.port)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the SMTP server did not start")

    def stop(self) -> int:
        """Stop the server; returns how many messages it received."""
        out, _ = self.proc.communicate(timeout=30)
        return int(out.strip() or 0)


# ---- the data -------------------------------------------------------------------------------------------


def fill_outbox(db: BenchDB, n: int) -> None:
    from notifications.outbox import message_id_for
    from notifications.render import render_mail

    mail = render_mail("reminder", {
        "recipient_name": "联络员", "title": "2026年第二季度工作进展报告", "township": "青石镇", "subject_unit": "青石镇",
        "period": "2026Q2", "due_date": dt.date(2026, 6, 30), "days_left": 6, "link": "http://127.0.0.1:8000/todos",
        "missing": ["基本情况", "取得的成效", "存在的问题", "下一步工作"],
    })
    stamp: Any = NOW if db.backend == "postgresql" else NOW.strftime("%Y-%m-%d %H:%M:%S.%f")
    rows = []
    for i in range(1, n + 1):
        key = f"reminder:{i}:3:{i % 97 + 1}"
        rows.append((key, message_id_for(key), f"user{i % 97 + 1}@example.org", i % 97 + 1, mail.subject, mail.text,
                     mail.html, "pending", 0, stamp))
    p = db.placeholder
    conn = db.connect()
    try:
        db.begin(conn)
        conn.cursor().executemany(
            "INSERT INTO outbox (key, message_id, to_addr, to_user_id, subject, body_text, body_html, status, attempts, "
            f"created_at) VALUES ({', '.join([p] * 10)})", rows)
        db.commit(conn)
    finally:
        conn.close()


def outbox_status(db: BenchDB) -> dict[str, int]:
    conn = db.connect()
    try:
        rows = conn.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall()
        conn.rollback()
    finally:
        conn.close()
    return {str(s): int(c) for s, c in rows}


# ---- the two runs --------------------------------------------------------------------------------------------


async def run_duban(port: int, workers: int) -> tuple[float, dict[str, int]]:
    from core.db import get_engine
    from notifications.delivery import deliver_pending
    from notifications.mailer import SmtpMailer

    engine = get_engine()
    mailer = SmtpMailer("127.0.0.1", port, timeout=30)
    totals = {"sent": 0, "retried": 0, "dead": 0, "skipped": 0}

    async def loop(n: int) -> None:
        while True:
            stats = await deliver_pending(engine, mailer, NOW, holder=f"bench-{n}", batch=BATCH)
            for k in totals:
                totals[k] += getattr(stats, k)
            if stats.sent + stats.retried + stats.dead == 0:
                return

    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    start = time.perf_counter()
    await asyncio.gather(*(loop(i) for i in range(workers)))
    return time.perf_counter() - start, totals


def built_messages(db: BenchDB) -> list[Any]:
    from sqlmodel import Session, select

    from core.db import get_engine
    from models.review import OutboxMessage
    from notifications.delivery import _sender
    from notifications.mailer import build_email

    name, addr = _sender()
    with Session(get_engine()) as session:
        rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()  # type: ignore[arg-type]
        return [build_email(r, name, addr) for r in rows]


async def run_baseline(port: int, workers: int, messages: list[Any]) -> float:
    import aiosmtplib

    queue = list(reversed(messages))

    async def loop() -> None:
        while queue:
            await aiosmtplib.send(queue.pop(), hostname="127.0.0.1", port=port, timeout=30)

    start = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(workers)))
    return time.perf_counter() - start


async def run_baseline_one_connection(port: int, workers: int, messages: list[Any]) -> float:
    import aiosmtplib

    queue = list(reversed(messages))

    async def loop() -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30) as client:
            while queue:
                await client.send_message(queue.pop())

    start = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(workers)))
    return time.perf_counter() - start


def sample(backend: str, root: Path, n: int, workers: int) -> tuple[float, float, float, dict[str, int]]:
    from core.db import reset_engines

    with temp_databases(backend, root) as dbs:
        db = dbs.create("mail")
        fill_outbox(db, n)
        use_database(db.url)
        messages = built_messages(db)
        server = SmtpServer()
        try:
            baseline_s = asyncio.run(run_baseline(server.port, workers, messages))
            one_connection_s = asyncio.run(run_baseline_one_connection(server.port, workers, messages))
            duban_s, totals = asyncio.run(run_duban(server.port, workers))
        finally:
            received = server.stop()
        reset_engines()
        status = outbox_status(db)
    if totals["sent"] != n or status.get("sent") != n or received != 3 * n:
        raise RuntimeError(f"duban: {totals}, outbox {status}; the server received {received} of {3 * n}")
    return duban_s, baseline_s, one_connection_s, totals


def run(root: Path, quick: bool = False) -> list[Figure]:
    n, workers = message_count(quick), concurrency()
    repeat = max(1, int(os.environ.get("BENCH_REPEAT", "1")))
    figures = []
    for backend in backends():
        samples = [sample(backend, root, n, workers) for _ in range(repeat)]
        d = statistics.median(s[0] for s in samples)
        for name, column, kind in (("mail", 1, "per message"), ("mail-1conn", 2, "one connection")):
            times = [s[1] if column == 1 else s[2] for s in samples]
            b = statistics.median(times)
            figures.append(Figure(
                benchmark="B3", name=name, backend=backend, duban_s=d, baseline_s=b,
                target_ratio=round(1 / TARGET_THROUGHPUT, 2),
                details={"messages": n, "concurrency": workers, "batch": BATCH, "baseline_connections": kind,
                         "duban_msgs_per_s": round(n / d), "baseline_msgs_per_s": round(n / b),
                         "throughput_ratio": round(b / d, 3), "target_throughput_ratio": TARGET_THROUGHPUT,
                         "repeat": repeat,
                         "samples": [{"duban_s": round(s[0], 4), "baseline_s": round(t, 4)} for s, t in zip(samples, times, strict=True)]},
            ))
    return figures


def summary(figure: Figure) -> str:
    d = figure.details
    return (f"{figure.figure}: {d['messages']:,} messages, concurrency {d['concurrency']}: duban "
            f"{d['duban_msgs_per_s']:,} msg/s, raw aiosmtplib ({d['baseline_connections']}) {d['baseline_msgs_per_s']:,} msg/s = "
            f"{d['throughput_ratio']:.0%} of the baseline's throughput (target ≥ {TARGET_THROUGHPUT:.0%})")


if __name__ == "__main__":
    serve(int(sys.argv[1]))
