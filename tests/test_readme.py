"""The README's "Try it" walkthrough, run as written (bash, curl, jq) against the app on a free port, on the
demo county at a fixed moment: every command answers what the README says it answers."""

from __future__ import annotations

import datetime as dt
import glob
import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from core.clock import CHINA_TZ, FakeClock
from tests.support.live import README, readme_blocks, run_walkthrough, serving

DAY = dt.datetime(2026, 12, 7, 9, 0, tzinfo=CHINA_TZ)
"""A Monday in December: the 2026 rectification is launched late, its Q4 report window is open."""

EXPECTED = [
    (200, "/auth/token"), (200, "/definitions"), (200, "/org-units?kind=township"),
    (200, "/org-units?kind=village&parent=QX01"),
    (201, "/campaigns"),  # launched for 青石镇
    (409, "/campaigns"),  # the same launch without the Idempotency-Key names the campaign
    (200, "/campaigns/batch"),  # every township reported, created or not
    (200, "/campaigns?township=QX01&year=2026"), (200, "/campaigns/1"), (200, "/calendar/2027"),
    (200, "/auth/token"), (200, "/todos"), (200, "/todos"),
    (201, "/submissions"),  # the report, submitted
    (200, "/auth/token"), (200, "/reviews/queue"),
    (200, "/submissions/{sub}/decisions"),
    (200, "/submissions/{sub}"),
]


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="the walkthrough needs curl and jq")
def test_the_try_it_walkthrough_does_what_the_readme_says(demo_county: Engine, clock: FakeClock, tmp_path: Path) -> None:
    clock.set(DAY)
    script = readme_blocks("Try it")[0]  # the curl walkthrough; the CLI block is tested in tests/cli
    with serving() as base:
        done = run_walkthrough(script, base, tmp_path)
    found = re.search(r"submission (\d+), version (\d+)", done.output)
    assert found, done.output
    sub = found[1]
    assert [(code, path.format(sub=sub)) for code, path in EXPECTED] == done.statuses, done.output[-3000:]
    # the report is sent back to the township with the reviewer's comment, not closed by a hollow-text check
    final = json.loads(done.output[done.output.rindex("{\n"):])
    assert final == {"status": "returned", "comment": "取得的成效请用数据说明到村"}
    assert "问责" not in done.output


def test_the_console_script_examples_run_as_written(demo_county: Engine, clock: FakeClock,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Every `duban` line of the README's console block runs against the demo county, with the files it names
    (they ship in examples/), and does what its comment says."""
    from typer.testing import CliRunner

    from cli.main import app

    clock.set(DAY)
    monkeypatch.chdir(README.parent)
    block = readme_blocks("Try it")[1]
    outputs = {}
    for command in _commands(block):
        assert command[0] == ".venv/bin/duban", command
        args = [a for part in command[1:] for a in (sorted(glob.glob(part)) if "*" in part else [part])]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, (command, result.output)
        outputs[" ".join(command[1:3])] = result.output
    assert "新启动 12 个" in outputs["launch --definition"]
    assert "已导入 county.csv：新增 0 个，更新 12 个组织单位" in outputs["org import"]
    assert "已导入 2 个账户" in outputs["users import"] and "qx04-liaison：初始密码" in outputs["users import"]
    assert "数据库：sqlite:" in outputs["users add"]


def _commands(block: str) -> list[list[str]]:
    """The block's commands, continuation lines joined and comments dropped."""
    joined = block.replace("\\\n", " ")
    return [shlex.split(line, comments=True) for line in joined.splitlines() if shlex.split(line, comments=True)]
