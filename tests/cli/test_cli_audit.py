"""Every ``duban`` command that changes rows writes an audit event in the same transaction, with the actor
``system:cli:<OS user>``; a new command must be walked here or named as one that writes nothing to the database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli.main import app
from core.clock import FakeClock
from models import AuditEvent
from tests.support.audit_walk import unaudited_change
from tests.support.databases import changed_tables, db_snapshot

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]

NO_DATABASE_WRITES = frozenset({
    "db upgrade", "definitions list", "definitions validate", "calendar show", "audit verify",
    "definitions versions", "definitions diff",
    "backup", "restore", "simulate", "run", "ledger export",
})
"""Commands that change no row of the database (``restore`` replaces
the whole database with a verified backup; ``simulate`` uses a database of its own; ``run`` serves)."""


def _commands(group: Any, prefix: str = "") -> set[str]:
    names: set[str] = set()
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group (typer's click may not be the installed one)
            names |= _commands(command, f"{prefix}{name} ")
        else:
            names.add(f"{prefix}{name}")
    return names


def _walk(tmp_path: Path) -> list[tuple[str, list[str], bool]]:
    """(command, its arguments, whether it must change rows), in an order where each one has something to do."""
    org = tmp_path / "org.csv"
    org.write_text("code,name,kind,parent,unit_level,establishment_size\nQXD09,县审计局,unit,QX,county,30\n",
                   encoding="utf-8")
    cadres = tmp_path / "cadres.csv"
    cadres.write_text("code,name,unit,post,phone\nQXD09-01,周平,QXD09,科员,\n", encoding="utf-8")
    holidays = tmp_path / "2027.yaml"
    holidays.write_text("year: 2027\nholidays: [2027-01-01]\nmakeup_workdays: []\n", encoding="utf-8")
    accounts = tmp_path / "users.csv"
    accounts.write_text("username,display_name,role,level,unit,email,password\n"
                        "qx04-liaison,云岭乡党建联络员,submitter,,QX04,,long-enough-4\n", encoding="utf-8")
    launch = ["--definition", "cadres_in_villages", "--year", "2025", "--township", "QX05"]
    shipped = REPO / "definitions" / "cadres_in_villages.yaml"
    version_2 = tmp_path / "cadres_in_villages.yaml"
    version_2.write_text(shipped.read_text(encoding="utf-8").replace("\nname: ", "\nname: （2025年修订）", 1),
                         encoding="utf-8")
    return [
        ("seed-demo", ["seed-demo"], True),
        ("org import", ["org", "import", str(org)], True),
        ("org import-people", ["org", "import-people", str(cadres)], True),
        ("calendar load", ["calendar", "load", str(holidays)], True),
        ("users add", ["users", "add", "--username", "qx05-liaison", "--role", "submitter", "--name", "联络员",
                       "--unit", "QX05", "--password", "long-enough-5"], True),
        ("users import", ["users", "import", str(accounts)], True),
        ("users set-password", ["users", "set-password", "qx05-liaison", "--password", "long-enough-6"], True),
        ("users deactivate", ["users", "deactivate", "qx05-liaison"], True),
        ("launch", ["launch", *launch], True),
        ("tick", ["tick", "--no-deliver"], False),
        ("definitions publish", ["definitions", "publish", str(version_2), "--note", "依据新通知修订名称"], True),
        ("definitions migrate", ["definitions", "migrate", "cadres_in_villages", "--to", "2", "--year", "2025",
                                 "--township", "QX05", "--apply"], True),
        ("audit anchor", ["audit", "anchor", "--file", str(tmp_path / "anchors" / "audit-anchors.jsonl")], True),
    ]


def test_every_command_that_writes_is_walked(tmp_path: Path) -> None:
    walked = {name for name, _, _ in _walk(tmp_path)}
    commands = _commands(typer.main.get_group(app))
    assert commands - walked - NO_DATABASE_WRITES == set(), "walk the new command in _walk or name it above"
    assert walked | NO_DATABASE_WRITES <= commands


def test_every_command_that_changes_rows_writes_an_audit_event(
    engine: Engine, clock: FakeClock, tmp_path: Path
) -> None:
    import getpass

    failures: list[str] = []
    for name, args, must_change in _walk(tmp_path):
        before = db_snapshot(engine)
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"{name}: {result.output}"
        after = db_snapshot(engine)
        if (problem := unaudited_change(before, after)) is not None:
            failures.append(f"duban {name}: {problem}")
        if must_change and not changed_tables(before, after):
            failures.append(f"duban {name} changed nothing")
    assert failures == []
    with Session(engine) as session:
        actors = set(session.exec(select(AuditEvent.actor).where(col(AuditEvent.action) != "tick.open_reporting_windows")))
    assert f"system:cli:{getpass.getuser()}" in actors
