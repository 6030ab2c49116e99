"""Prefect settings duban needs, applied before ``prefect`` is imported."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from core.settings import get_settings

# Settings of the Prefect server duban runs with (the temporary one a flow starts, or `prefect server start` in a
# scaled-out stack); each can be overridden from the environment.
# - Telemetry cannot reach its server from a closed network and would log errors.
# - The task-run recorder writes the task runs it hears of in batches: by default it opens one write transaction per
#   task-run event, and on the server's SQLite database those transactions hold the write lock against the API's own
#   writes — creating a flow run then waits ≈ 2 s for the lock (up to the 60 s busy timeout; a no-op flow of five
#   tasks took 2.2 s median instead of 0.14 s, BENCHMARKS.md "Issue 21, fourth session"). With batches the
#   recorder writes at most every ``flush_interval`` (5 s) or every 100 task-run events.
SERVER_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "100",
}


def server_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``SERVER_DEFAULTS`` under what ``environ`` already sets."""
    return SERVER_DEFAULTS | {key: environ[key] for key in SERVER_DEFAULTS if key in environ}


def configure_prefect() -> None:
    settings = get_settings()
    home = os.environ.setdefault("PREFECT_HOME", str(settings.var_dir / "prefect"))
    os.makedirs(home, exist_ok=True)
    os.environ.update(server_environment(os.environ))
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "60")


def isolate(directory: Path) -> None:
    """Point duban and Prefect at ``directory`` (tests, benchmarks): Prefect's home and duban's var folder
    there, no telemetry, quiet logs, no local SMTP sink and no Prefect warm-up. Call it before importing
    ``prefect`` and before the settings are first read."""
    os.environ["PREFECT_HOME"] = str(directory / "prefect")
    os.environ.update(server_environment(os.environ))
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    os.environ["DUBAN_VAR_DIR"] = str(directory / "var")
    os.environ["DUBAN_SMTP_SINK"] = "false"
    os.environ["DUBAN_PREFECT_WARMUP"] = "false"
    # The first flow run starts Prefect's temporary server: ~7.5 s idle, minutes on a machine loaded by a test
    # suite in two processes, and Prefect's default wait (20 s) turned the launch that started it into a 500.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")
    os.environ.pop("DATABASE_URL", None)
