"""``duban launch`` late in the year: the choice between waiving and catching up, and the deadlines it affected."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from cli.main import app
from core.clock import CHINA_TZ, FakeClock
from models import Obligation

runner = CliRunner()
LAUNCH = ["launch", "--definition", "weak_village_rectification", "--year", "2026", "--township", "QX02"]


def test_a_late_launch_lists_the_waived_deadlines(engine: Engine, clock: FakeClock) -> None:
    clock.set(dt.datetime(2026, 12, 7, 10, tzinfo=CHINA_TZ))
    assert runner.invoke(app, ["seed-demo"]).exit_code == 0
    result = runner.invoke(app, LAUNCH)
    assert result.exit_code == 0, result.output
    assert "QX02：1 项截止日期在启动前已过" in result.output
    assert "上报相对后进薄弱村党组织名单（2026年度，柳河乡）：原定2026年10月10日截止，不适用，免于报送" in result.output


def test_a_catch_up_launch_names_the_new_due_date(engine: Engine, clock: FakeClock) -> None:
    clock.set(dt.datetime(2026, 12, 7, 10, tzinfo=CHINA_TZ))
    assert runner.invoke(app, ["seed-demo"]).exit_code == 0
    result = runner.invoke(app, [*LAUNCH, "--late", "catch_up", "--catch-up-workdays", "5"])
    assert result.exit_code == 0, result.output
    assert "原定2026年10月10日截止，限2026年12月14日前补报" in result.output
    with Session(engine) as s:
        row = s.exec(select(Obligation).where(Obligation.rule_key == "weak_village_list")).one()
        assert (row.status, row.due_on) == ("open", dt.date(2026, 12, 14))


def test_an_unknown_choice_is_refused(engine: Engine) -> None:
    result = runner.invoke(app, [*LAUNCH, "--late", "later"])
    assert result.exit_code == 2 and "later" in result.output
