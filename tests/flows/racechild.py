"""One racer of tests/flows/test_process_races.py: a separate OS process against the shared database.

Run as ``python tests/flows/racechild.py INDEX PARTIES WORKDIR`` with ``DUBAN_DATABASE_URL`` (and
``PREFECT_API_URL``, the SMTP settings) in the environment. It prints ``READY`` once imported and signed
in, then reads one JSON command per line from stdin and answers each with one ``RESULT <json>`` line:

- ``{"op": "launch", "round": r, "now": iso, "body": {...}, "idempotency_key": k|null}``: POST /api/v1/campaigns;
- ``{"op": "decide", "round": r, "now": iso, "submission": id, "body": {...}, "user": name}``: POST a decision;
- ``{"op": "tick", "round": r, "now": iso}``: the ``tick`` flow;
- ``{"op": "deliver", "round": r, "now": iso, "batch": n}``: deliveries over SMTP until one finds nothing due.

The contested step of every command waits at a barrier of all PARTIES racers first (a file per racer under
WORKDIR), placed where the database work starts: inside the API handler after authentication, at the
start of each task transaction of the tick, at the first claim of the outbox. So the racers really are
inside the same step at once, whatever their start-up or Prefect overheads were.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

BARRIER_TIMEOUT = 60.0


class Racer:
    def __init__(self, index: int, parties: int, workdir: Path) -> None:
        self.index = index
        self.parties = parties
        self.workdir = workdir
        self.round = 0
        self.passed: set[str] = set()
        self.waits: list[str] = []

    def barrier(self, name: str) -> None:
        """Wait until every racer reached ``name`` in this round; only the first time (retries go on)."""
        key = f"r{self.round}-{name}"
        if key in self.passed:
            return
        self.passed.add(key)
        folder = self.workdir / "barriers" / key
        folder.mkdir(parents=True, exist_ok=True)
        (folder / str(self.index)).touch()
        deadline = time.monotonic() + BARRIER_TIMEOUT
        while sum(1 for _ in folder.iterdir()) < self.parties:
            if time.monotonic() > deadline:
                raise TimeoutError(f"racer {self.index}: barrier {key} not reached by all {self.parties} racers")
            time.sleep(0.002)
        self.waits.append(key)

    def hold(self, module: Any, attribute: str, name: Callable[..., str]) -> None:
        """Make ``module.attribute`` wait at the barrier ``name(*args)`` before doing its work."""
        real = getattr(module, attribute)

        @functools.wraps(real)
        def held(*args: Any, **kwargs: Any) -> Any:
            self.barrier(name(*args, **kwargs))
            return real(*args, **kwargs)

        setattr(module, attribute, held)


async def main() -> None:
    index, parties, workdir = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    racer = Racer(index, parties, workdir)

    import httpx

    from api.app import create_app
    from core import clock as clock_module
    from core.clock import FakeClock
    from flows import tick as tick_flows
    from notifications import delivery
    from tasks import launch as launch_tasks
    from tasks import review

    clock = FakeClock(dt.datetime(2025, 1, 2, 9, tzinfo=clock_module.CHINA_TZ))
    clock_module.set_clock(clock)
    racer.hold(launch_tasks, "launch_in_session", lambda *a, **k: "launch")
    racer.hold(review, "decide", lambda *a, **k: "decide")
    racer.hold(tick_flows, "_in_transaction", lambda transaction, now: f"tick-{transaction.name}")
    racer.hold(delivery, "_claim", lambda *a, **k: "claim")

    transport = httpx.ASGITransport(app=create_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://duban.test", timeout=120) as client:

        async def headers(user: str) -> dict[str, str]:
            """A token issued at the command's (virtual) moment, so it is valid then."""
            from tasks.accounts import DEMO_PASSWORD

            r = await client.post("/api/v1/auth/token", json={"username": user, "password": DEMO_PASSWORD})
            r.raise_for_status()
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        await headers("admin")
        print("READY", flush=True)

        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line.strip():
                break
            command = json.loads(line)
            racer.round = int(command["round"])
            clock.set(dt.datetime.fromisoformat(command["now"]))
            command["index"] = index
            result: dict[str, Any] = {"index": index, "round": racer.round, "op": command["op"]}
            try:
                result.update(await run(command, client, headers))
            except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the test
                result["error"] = "".join(traceback.format_exception(exc))
            result["barriers"] = [w for w in racer.waits if w.startswith(f"r{racer.round}-")]
            print("RESULT " + json.dumps(result, ensure_ascii=False), flush=True)


async def run(command: dict[str, Any], client: Any, headers: Callable[[str], Any]) -> dict[str, Any]:
    from dataclasses import asdict

    from core.clock import get_clock
    from core.db import get_engine

    op, now = command["op"], get_clock().now()
    if op == "launch":
        extra = {"Idempotency-Key": command["idempotency_key"]} if command.get("idempotency_key") else {}
        r = await client.post("/api/v1/campaigns", json=command["body"], headers=await headers("admin") | extra)
        return {"status": r.status_code, "content_type": r.headers.get("content-type"), "body": r.json(),
                "replayed": r.headers.get("Idempotent-Replayed")}
    if op == "decide":
        r = await client.post(f"/api/v1/submissions/{command['submission']}/decisions", json=command["body"],
                              headers=await headers(command["user"]))
        return {"status": r.status_code, "content_type": r.headers.get("content-type"), "body": r.json()}
    if op == "tick":
        from flows.tick import tick

        return {"counts": await tick(now=now)}
    if op == "deliver":
        # A raw delivery worker (the body of the deliver_notifications flow, without the Prefect run
        # around it) over SMTP, claiming small batches until the outbox has nothing due for it.
        from flows.tick import smtp_mailer
        from notifications.delivery import deliver_pending

        engine, mailer, runs = get_engine(), smtp_mailer(), []
        while True:
            stats = asdict(await deliver_pending(engine, mailer, now, holder=f"racer-{command['index']}",
                                                 batch=int(command["batch"])))
            runs.append(stats)
            if not any(stats.values()):
                return {"runs": runs}
    raise ValueError(f"unknown op {op!r}")


if __name__ == "__main__":
    asyncio.run(main())
