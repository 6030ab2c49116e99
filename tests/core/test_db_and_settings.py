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


def test_a_dot_env_in_the_working_directory_is_read_and_the_environment_wins(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DUBAN_SMTP_PORT=2525\nDUBAN_SMTP_HOST=mail.qingxi.example\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DUBAN_SMTP_PORT", raising=False)
    monkeypatch.delenv("DUBAN_SMTP_HOST", raising=False)
    assert (Settings().smtp_host, Settings().smtp_port) == ("mail.qingxi.example", 2525)
    monkeypatch.setenv("DUBAN_SMTP_PORT", "2626")
    assert Settings().smtp_port == 2626


def test_the_checkouts_dot_env_is_read_from_anywhere() -> None:
    from core.settings import REPO_ROOT

    assert REPO_ROOT / ".env" in Settings.model_config["env_file"]  # type: ignore[operator]
