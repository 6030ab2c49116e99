"""The README's "Try it" walkthrough, run as written (bash, curl, jq) against the app on a free port, on the
demo county at a fixed moment: every command answers what the README says it answers."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from core.clock import CHINA_TZ, FakeClock
from tests.support.live import readme_blocks, run_walkthrough, serving

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
