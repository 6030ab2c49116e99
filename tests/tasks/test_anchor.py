"""Anchors prove that no audit event was removed from the end of the chain since the last one."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli.main import app
from core.clock import FakeClock
from models import AuditEvent, OutboxMessage
from tasks.anchor import chain_head

runner = CliRunner()


def test_an_anchor_detects_events_cut_from_the_end(engine: Engine, clock: FakeClock, tmp_path: Path) -> None:
    assert runner.invoke(app, ["seed-demo"]).exit_code == 0
    anchors = tmp_path / "anchors" / "audit-anchors.jsonl"
    done = runner.invoke(app, ["audit", "anchor", "--file", str(anchors)])
    assert done.exit_code == 0, done.output
    with Session(engine) as session:
        last, _ = chain_head(session)
        event = session.exec(select(AuditEvent).where(AuditEvent.seq == last)).one()
        mails = session.exec(select(OutboxMessage).where(col(OutboxMessage.key).startswith("audit-anchor:"))).all()
    # the anchoring is itself the next event, by the command's OS user, naming the head it anchored
    assert event.action == "audit.anchor" and event.actor.startswith("system:cli:") and event.after is not None
    seq, head = event.after["seq"], event.after["hash"]
    assert seq == last - 1 and f"第 {seq} 条" in done.output and head in anchors.read_text()
    assert [m.to_addr for m in mails] == ["zzb@qingxi.example"] and head in mails[0].body_text
    good = runner.invoke(app, ["audit", "verify", "--anchors", str(anchors)])
    assert good.exit_code == 0 and "与 1 个锚点一致" in good.output, good.output

    with engine.begin() as conn:  # an attacker with database access removes the newest events
        conn.execute(delete(AuditEvent).where(col(AuditEvent.seq) > seq - 2))
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0  # the chain alone cannot tell
    cut = runner.invoke(app, ["audit", "verify", "--anchors", str(anchors)])
    assert cut.exit_code == 1 and f"记录了第{seq}条，审计链只到第{seq - 2}条" in cut.output, cut.output


def test_a_later_anchor_covers_new_events_and_a_rewritten_head_is_named(
    engine: Engine, clock: FakeClock, tmp_path: Path
) -> None:
    runner.invoke(app, ["seed-demo"])
    anchors = tmp_path / "a.jsonl"
    runner.invoke(app, ["audit", "anchor", "--file", str(anchors)])
    runner.invoke(app, ["users", "deactivate", "observer"])
    runner.invoke(app, ["audit", "anchor", "--file", str(anchors)])
    assert len(anchors.read_text().splitlines()) == 2
    assert "与 2 个锚点一致" in runner.invoke(app, ["audit", "verify", "--anchors", str(anchors)]).output
    with Session(engine) as session:
        seq = chain_head(session)[0] - 1  # the second anchor names the head before its own event
    lines = anchors.read_text().splitlines()
    anchors.write_text(lines[0] + "\n" + lines[1].replace(lines[1].split('"hash": "')[1][:8], "00000000") + "\n")
    rewritten = runner.invoke(app, ["audit", "verify", "--anchors", str(anchors)])
    assert rewritten.exit_code == 1 and f"第{seq}条审计记录的哈希值与锚点" in rewritten.output, rewritten.output
    anchors.write_text("not json\n")
    assert runner.invoke(app, ["audit", "verify", "--anchors", str(anchors)]).exit_code == 2


def test_the_anchor_file_must_be_outside_the_database_directory(engine: Engine, clock: FakeClock) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("a server database has no directory here")
    inside = Path(str(engine.url.database)).parent / "anchors.jsonl"
    refused = runner.invoke(app, ["audit", "anchor", "--file", str(inside)])
    assert refused.exit_code == 2 and "数据库所在目录" in refused.output and not inside.exists()
