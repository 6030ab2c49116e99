"""Prefect settings duban needs, applied before ``prefect`` is imported."""

from __future__ import annotations

import os

from core.settings import get_settings


def configure_prefect() -> None:
    settings = get_settings()
    home = os.environ.setdefault("PREFECT_HOME", str(settings.var_dir / "prefect"))
    os.makedirs(home, exist_ok=True)
    # Telemetry cannot reach its server from a closed network and would log errors.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "60")
