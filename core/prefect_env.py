"""Prefect settings duban needs, applied before ``prefect`` is imported."""

from __future__ import annotations

import os
from pathlib import Path

from core.settings import get_settings


def configure_prefect() -> None:
    settings = get_settings()
    home = os.environ.setdefault("PREFECT_HOME", str(settings.var_dir / "prefect"))
    os.makedirs(home, exist_ok=True)
    # Telemetry cannot reach its server from a closed network and would log errors.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "60")


def isolate(directory: Path) -> None:
    """Point duban and Prefect at ``directory`` (tests, benchmarks): Prefect's home and duban's var folder
    there, no telemetry, quiet logs, no local SMTP sink and no Prefect warm-up. Call it before importing
    ``prefect`` and before the settings are first read."""
    os.environ["PREFECT_HOME"] = str(directory / "prefect")
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    os.environ["DUBAN_VAR_DIR"] = str(directory / "var")
    os.environ["DUBAN_SMTP_SINK"] = "false"
    os.environ["DUBAN_PREFECT_WARMUP"] = "false"
    # The first flow run starts Prefect's temporary server: ~7.5 s idle, minutes on a machine loaded by a test
    # suite in two processes, and Prefect's default wait (20 s) turned the launch that started it into a 500.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")
    os.environ.pop("DATABASE_URL", None)
