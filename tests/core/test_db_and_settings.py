"""Engine settings and typed configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from core.db import make_engine
from core.settings import Settings


def test_sqlite_runs_in_wal_with_foreign_keys_and_busy_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}", busy_timeout_ms=1234)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 1234
    engine.dispose()


def test_settings_read_the_duban_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DUBAN_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("DUBAN_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = Settings()
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'duban.db'}"
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert Settings().effective_database_url == "postgresql+psycopg://u@h/db"
    monkeypatch.setenv("DUBAN_SCHEDULER", "sometimes")
    with pytest.raises(ValueError):
        Settings()
