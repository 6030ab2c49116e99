"""Scale-out mode for real: ``scripts/scale_out.py`` (``make scale-out``) brings up a Prefect server on PostgreSQL,
the ``duban`` process work pool with the deployments of ``prefect.yaml``, a worker and an API process with
``DUBAN_SCHEDULER=prefect``; a tick and a delivery started through Prefect's API run in the worker's flow-run
processes against duban's PostgreSQL database and a real SMTP server (the stack's aiosmtpd sink).

The weak-village rectification of 2025 is launched for 青石镇 (QX01) on 25 Sep 2025, 09:00 China time, which
queues the request (报送通知) for its list of weak villages, due Fri 10 Oct. The tick runs as of Thu 9 Oct, 09:00:
one working day before the due date, so it queues the "1 day left" reminder (催报提醒) for the liaison. The
delivery then sends both. Prefect's scheduler service is off here, so the cron schedules (checked by
``test_prefect_deploy.py``) add no runs of their own and the two runs below are the only ones.
"""

from __future__ import annotations

import datetime as dt
import json
import mailbox
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, col, select

from core.net import free_port
from flows.params import moment
from models import Lease, OutboxMessage, ReminderLog, User
from scripts.scale_out import REPO, Config, drop_database, prefect, scale_out
from tests.support import postgres
from tests.support.clock import at
from tests.support.world import launch

# The multi-process tests run one after another on one pytest-xdist worker (`--dist loadgroup`), never beside
# each other: each loads both CPUs with its own processes (tests/support/soak.py).
pytestmark = pytest.mark.xdist_group("processes")
LAUNCH = at(dt.date(2025, 9, 25))
TICK = at(dt.date(2025, 10, 9))
RUN_TIMEOUT = 120


def _config(tmp_path: Path, **options: Any) -> Config:
    """A stack of its own: new databases, free ports, files under tmp_path; no UI, a worker polling every second."""
    suffix = uuid.uuid4().hex[:10]
    server = make_url(postgres.PG_URL)
    settings: dict[str, Any] = {
        "postgres_url": postgres.PG_URL,
        "duban_database_url": server.set(database=f"duban_so_{suffix}").render_as_string(hide_password=False),
        "prefect_database_url": server.set(drivername="postgresql+asyncpg", database=f"prefect_so_{suffix}")
        .render_as_string(hide_password=False),
        "host": "127.0.0.1", "prefect_port": free_port(), "api_ports": (free_port(),),
        "smtp_host": "127.0.0.1", "smtp_port": free_port(), "smtp_sink": True, "var_dir": tmp_path / "var",
        "schedules": False, "ui": False, "worker_query_seconds": 1,
    }
    return Config(**(settings | options))


def _run_deployment(config: Config, name: str, **parameters: Any) -> None:
    """``prefect deployment run NAME --watch``: exits 0 only once a worker has completed the run."""
    args = prefect("deployment", "run", name, "--watch", "--watch-timeout", str(RUN_TIMEOUT))
    for key, value in parameters.items():
        args += ["--param", f"{key}={json.dumps(value)}"]
    result = subprocess.run(args, env=config.environment(), capture_output=True, text=True, timeout=RUN_TIMEOUT + 30)
    worker_log = (config.log_dir / "worker.log").read_text(encoding="utf-8", errors="replace")[-4000:]
    assert result.returncode == 0, f"{name}:\n{result.stdout}\n{result.stderr}\nworker log:\n{worker_log}"


def _filter(config: Config, what: str) -> list[dict[str, Any]]:
    request = urllib.request.Request(f"{config.prefect_api_url}/{what}/filter", data=b"{}",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        rows = json.loads(response.read())
    assert isinstance(rows, list)
    return rows


def _outbox(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as s:
        return list(s.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


def test_moment_reads_what_a_deployment_run_passes() -> None:
    assert moment("2025-10-09T09:00:00+08:00") == TICK
    assert moment("2025-10-09T09:00:00") == TICK  # naive: China time, as `duban tick --at`
    assert moment(TICK) is TICK
    assert moment(None).tzinfo is not None


@pytest.mark.postgres
def test_tick_and_delivery_run_through_a_worker(tmp_path: Path) -> None:
    postgres.skip_unless_reachable("scale-out")
    config = _config(tmp_path)
    engine = None
    try:
        with scale_out(config):
            engine = create_engine(config.duban_database_url)
            launch(engine, ["QX01"], LAUNCH)
            [request] = _outbox(engine)
            assert request.key.startswith("request:") and request.status == "pending"

            _run_deployment(config, "tick/tick", now=TICK.isoformat())
            with Session(engine) as s:
                liaison = s.exec(select(User).where(User.username == "qx01-liaison")).one()
                logs = [(r.offset, r.remind_on) for r in s.exec(select(ReminderLog).where(ReminderLog.user_id == liaison.id))]
            assert sorted(logs) == [(-1, LAUNCH.date()), (1, TICK.date())]
            queued = _outbox(engine)
            assert [m.status for m in queued] == ["pending", "pending"]
            assert queued[1].key.startswith("reminder:") and "还剩1天" in queued[1].subject
            assert {m.to_addr for m in queued} == {"qx01-liaison@qingxi.example"}

            _run_deployment(config, "deliver_notifications/deliver-notifications")
            delivered = _outbox(engine)
            assert [m.status for m in delivered] == ["sent", "sent"]
            received = [message["Message-ID"] for message in mailbox.Maildir(config.var_dir / "mail", create=False)]
            assert sorted(received) == sorted(m.message_id for m in delivered)

            stored = _filter(config, "deployments")
            # `prefect deploy` resolves {{ $DUBAN_HOME }}: every worker host needs the checkout at this path.
            assert {json.dumps(d["pull_steps"]) for d in stored} == {json.dumps([
                {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}])}
            deployments = {d["id"]: d["name"] for d in stored}
            runs = _filter(config, "flow_runs")
            assert sorted((deployments[r["deployment_id"]], r["state_type"], r["work_pool_name"]) for r in runs) == [
                ("deliver-notifications", "COMPLETED", "duban"), ("tick", "COMPLETED", "duban")]
            with Session(engine) as s:
                assert s.exec(select(Lease)).all() == []  # DUBAN_SCHEDULER=prefect: the API process never ticked
    finally:
        if engine is not None:
            engine.dispose()
        drop_database(config.postgres_url, config.duban_database_url)
        drop_database(config.postgres_url, config.prefect_database_url)


@pytest.mark.postgres
def test_the_scheduler_turns_the_cron_schedules_into_flow_runs(tmp_path: Path) -> None:
    """A plain ``prefect server start``: with the SQLAlchemy 2.0 that duban pins, Prefect 3.8's scheduler creates
    the runs unpatched (with 2.1 it failed on every loop).

    No worker here, so the runs stay scheduled; the scheduler's loop for new deployments runs every 5 s.
    """
    postgres.skip_unless_reachable("scale-out")
    config = _config(tmp_path, schedules=True, worker=False, api_ports=(), seed_demo=False, smtp_sink=False)
    try:
        with scale_out(config):
            deployments = {d["id"]: d["name"] for d in _filter(config, "deployments")}
            deadline = time.monotonic() + 60
            scheduled: set[str] = set()
            while scheduled != {"tick", "deliver-notifications"} and time.monotonic() < deadline:
                time.sleep(1)
                scheduled = {deployments[r["deployment_id"]] for r in _filter(config, "flow_runs")
                             if r["auto_scheduled"] and r["state_type"] == "SCHEDULED"}
            server_log = (config.log_dir / "prefect-server.log").read_text(encoding="utf-8", errors="replace")
            assert scheduled == {"tick", "deliver-notifications"}, server_log[-4000:]
            assert "Can't evaluate bulk DML statement" not in server_log
    finally:
        drop_database(config.postgres_url, config.duban_database_url)
        drop_database(config.postgres_url, config.prefect_database_url)
