"""``duban definitions publish | versions | diff | migrate`` (issue 19), in-process against a real database: the
same task functions as the API and the page, Chinese summaries, refusals naming the field and its line with a
non-zero exit code."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from cli.main import app
from core.clock import FakeClock
from models import AuditEvent, Campaign
from tasks.launch import launch_many
from tests.support.clock import at
from tests.support.versions import DEFINITION, shipped_source, v2_source

runner = CliRunner()


def _launch(engine: Engine, clock: FakeClock) -> None:
    clock.set(at(dt.date(2024, 12, 20)))
    outcomes = launch_many(engine, DEFINITION, ["QX01", "QX02"], 2025, clock.now())
    assert [o["status"] for o in outcomes] == ["created", "created"]


def test_publish_versions_diff_and_migrate(demo_county: Engine, clock: FakeClock, tmp_path: Path) -> None:
    _launch(demo_county, clock)
    draft = tmp_path / "v2.yaml"
    draft.write_text(v2_source(), encoding="utf-8")
    published = runner.invoke(app, ["definitions", "publish", str(draft), "--note", "县委基层办2025年1号通知"])
    assert published.exit_code == 0, published.output
    assert "已发布“干部下基层驻农村”（cadres_in_villages）第2版：县委基层办2025年1号通知" in published.output
    assert "截止事项：新增 midyear_report；修改 cadres_on_site（截止日期规则）" in published.output

    versions = runner.invoke(app, ["definitions", "versions", DEFINITION])
    assert versions.exit_code == 0, versions.output
    lines = versions.output.strip().splitlines()
    assert lines[0].startswith("第1版") and "随程序发布" in lines[0]
    assert lines[1].startswith("第2版") and "县委组织部组织科" in lines[1] and "县委基层办2025年1号通知" in lines[1]

    diff = runner.invoke(app, ["definitions", "diff", DEFINITION, "--from", "1", "--to", "2"])
    assert diff.exit_code == 0 and "阶段：修改 deploy（结束日期）；修改 stationed（开始日期）" in diff.output

    preview = runner.invoke(app, ["definitions", "migrate", DEFINITION, "--to", "2", "--township", "QX01"])
    assert preview.exit_code == 0, preview.output
    assert "预览（未执行，加 --apply 执行）：1 个督办任务" in preview.output and "第1版→第2版" in preview.output
    with Session(demo_county) as s:
        assert {c.definition_version for c in s.exec(select(Campaign))} == {1}
    applied = runner.invoke(app, ["definitions", "migrate", DEFINITION, "--to", "2", "--year", "2025", "--apply"])
    assert applied.exit_code == 0, applied.output
    assert "已执行：2 个督办任务，迁移 2 个" in applied.output
    with Session(demo_county) as s:
        assert {c.definition_version for c in s.exec(select(Campaign))} == {2}
        actions = set(s.exec(select(AuditEvent.action)))
    assert {"definition.publish", "campaign.migrate"} <= actions


def test_a_refused_draft_names_the_field_and_its_line(demo_county: Engine, tmp_path: Path) -> None:
    broken = shipped_source().replace("    closes: {month: 1, day: 8}\n", "    closes: {month: 1, day: 88}\n")
    line = broken.splitlines().index("    closes: {month: 1, day: 88}") + 1
    path = tmp_path / "broken.yaml"
    path.write_text(broken, encoding="utf-8")
    result = runner.invoke(app, ["definitions", "publish", str(path), "--note", "写错的日期"])
    assert result.exit_code == 2
    assert f"第{line}行 stages[0].closes" in result.output and "day 88 does not exist" in result.output
    no_note = tmp_path / "ok.yaml"
    no_note.write_text(shipped_source(), encoding="utf-8")
    result = runner.invoke(app, ["definitions", "publish", str(no_note), "--note", " "])
    assert result.exit_code == 2 and "版本说明" in result.output
    not_admin = runner.invoke(app, ["definitions", "publish", str(no_note), "--note", "x", "--user", "qx01-liaison"])
    assert not_admin.exit_code == 2 and "无权" in not_admin.output
    unknown = runner.invoke(app, ["definitions", "versions", "no_such_thing"])
    assert unknown.exit_code == 2 and "no_such_thing" in unknown.output


def test_the_run_banner_lists_only_launchable_definitions() -> None:
    from cli.serve import launchable_names
    from tasks.registry import shipped

    line = launchable_names(shipped())
    assert "（weak_village_rectification）" in line and "（cadres_in_villages）" in line
    for key, d in shipped().items():
        assert (f"（{key}）" in line) is (not d.desk), key
    assert any(d.desk for d in shipped().values())  # the shipped desk containers are what is left out
