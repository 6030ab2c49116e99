"""The ``duban`` console script, run in-process against a real database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from cli.main import app
from core.clock import FakeClock
from models import Cadre, CalendarYear, Campaign, Obligation, OrgUnit

runner = CliRunner()


def test_db_upgrade_is_repeatable(engine: Engine) -> None:
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output


def test_seed_and_launch_all_townships(engine: Engine, clock: FakeClock) -> None:
    assert runner.invoke(app, ["seed-demo"]).exit_code == 0
    result = runner.invoke(app, ["launch", "--definition", "weak_village_rectification", "--year", "2025", "--all-townships"])
    assert result.exit_code == 0, result.output
    assert "新启动 12 个" in result.output
    again = runner.invoke(app, ["launch", "--definition", "weak_village_rectification", "--year", "2025", "--all-townships"])
    assert again.exit_code == 0 and "已存在 12 个" in again.output
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Campaign)
                      .where(Campaign.definition_key == "weak_village_rectification")).one() == 12


def test_launch_reports_a_failing_township_and_continues(engine: Engine, clock: FakeClock) -> None:
    runner.invoke(app, ["seed-demo"])
    result = runner.invoke(
        app, ["launch", "--definition", "cadres_in_villages", "--year", "2025", "--township", "QX01", "--township", "BAD"]
    )
    assert result.exit_code == 1
    assert "新启动 1 个" in result.output and "BAD" in result.output


def test_launch_rejects_unknown_definition(engine: Engine) -> None:
    result = runner.invoke(app, ["launch", "--definition", "nope", "--year", "2025", "--all-townships"])
    assert result.exit_code == 2 and "nope" in result.output


def test_org_import_reports_line_and_imports_nothing(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "org.csv"
    path.write_text("code,name,kind,parent\nC,县,county,\nC01,镇,township,C\nC01001,村,village,C99\n", encoding="utf-8")
    result = runner.invoke(app, ["org", "import", str(path)])
    assert result.exit_code == 2
    assert "第4行" in result.output and "C99" in result.output
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(OrgUnit)).one() == 0
    path.write_text("code,name,kind,parent\nC,县,county,\nC01,镇,township,C\n", encoding="utf-8")
    assert runner.invoke(app, ["org", "import", str(path)]).exit_code == 0


def test_cadre_import_reports_line_and_imports_nothing(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "org.csv"
    path.write_text("code,name,kind,parent,unit_level,establishment_size\nC,县,county,,,\n"
                    "CD1,县农业农村局,unit,C,county,40\n", encoding="utf-8")
    assert runner.invoke(app, ["org", "import", str(path)]).exit_code == 0
    path = tmp_path / "cadres.csv"
    path.write_text("code,name,unit,post,phone\nK1,王强,CD1,科员,\nK2,李明,C99,科员,\n", encoding="utf-8")
    result = runner.invoke(app, ["org", "import-people", str(path)])
    assert result.exit_code == 2
    assert "第3行" in result.output and "派出单位编码 C99 不存在" in result.output
    with Session(engine) as s:
        assert s.exec(select(func.count()).select_from(Cadre)).one() == 0
    path.write_text("code,name,unit,post,phone\nK1,王强,CD1,科员,\n", encoding="utf-8")
    done = runner.invoke(app, ["org", "import-people", str(path), "--kind", "cadre"])
    assert done.exit_code == 0 and "新增 1 名" in done.output


def test_calendar_load_makes_a_year_official(engine: Engine, tmp_path: Path) -> None:
    assert "weekends_only" in runner.invoke(app, ["calendar", "show", "2027"]).output
    path = tmp_path / "2027.yaml"
    path.write_text(
        "year: 2027\nholidays: [2027-01-01, 2027-10-01, 2027-10-04]\nmakeup_workdays: [2027-09-26]\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["calendar", "load", str(path)])
    assert result.exit_code == 0, result.output
    assert "loaded" in runner.invoke(app, ["calendar", "show", "2027"]).output
    with Session(engine) as s:
        row = s.get(CalendarYear, 2027)
        assert row is not None and row.makeup_workdays == ["2027-09-26"]
    path.write_text("year: 2027\nholidays: [2027-13-01]\n", encoding="utf-8")
    bad = runner.invoke(app, ["calendar", "load", str(path)])
    assert bad.exit_code == 2 and "holidays[0]" in bad.output


def test_definitions_validate(tmp_path: Path) -> None:
    good = Path(__file__).resolve().parents[2] / "definitions" / "five_good_model_site.yaml"
    assert runner.invoke(app, ["definitions", "validate", str(good)]).exit_code == 0
    bad = tmp_path / "broken.yaml"
    bad.write_text("key: broken\nname: 坏\nversion: 0\n", encoding="utf-8")
    result = runner.invoke(app, ["definitions", "validate", str(bad)])
    assert result.exit_code == 1 and "broken.yaml" in result.output and "version" in result.output


def test_loading_a_year_moves_open_deadlines_and_clears_the_warning(
    engine: Engine, clock: FakeClock, tmp_path: Path
) -> None:
    runner.invoke(app, ["seed-demo"])
    launched = runner.invoke(
        app, ["launch", "--definition", "five_good_model_site", "--year", "2026", "--township", "QX01"]
    )
    assert launched.exit_code == 0, launched.output
    with Session(engine) as s:
        campaign = s.exec(select(Campaign).where(Campaign.definition_key == "five_good_model_site")).one()
        assert any("2027" in w for w in campaign.calendar_warnings)
        self_check = s.exec(
            select(Obligation).where(Obligation.nominal_due_on == dt.date(2027, 1, 15))
        ).one()
        assert self_check.due_on == dt.date(2027, 1, 15)  # a Friday, weekends-only
    path = tmp_path / "2027.yaml"
    path.write_text("year: 2027\nholidays: [2027-01-15]\nmakeup_workdays: []\n", encoding="utf-8")
    result = runner.invoke(app, ["calendar", "load", str(path)])
    assert result.exit_code == 0 and "调整 1 项" in result.output, result.output
    with Session(engine) as s:
        campaign = s.exec(select(Campaign).where(Campaign.definition_key == "five_good_model_site")).one()
        assert not any("2027年的法定节假日" in w for w in campaign.calendar_warnings)
        moved = s.get(Obligation, self_check.id)
        assert moved is not None and moved.due_on == dt.date(2027, 1, 14)


def test_users_add_with_daily_digest(engine: Engine) -> None:
    runner.invoke(app, ["seed-demo"])
    result = runner.invoke(app, ["users", "add", "--username", "qx05-liaison", "--role", "submitter", "--name", "联络员",
                                 "--unit", "QX05", "--email", "a@b.cn", "--password", "long-enough-1", "--daily-digest"])
    assert result.exit_code == 0, result.output
    with Session(engine) as s:
        from models import User

        assert s.exec(select(User).where(User.username == "qx05-liaison")).one().daily_digest is True


def test_org_import_explains_a_wrong_value_in_chinese(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "org.csv"
    path.write_text("code,name,kind,parent,collective_income\nC,县,county,,\nC01,镇,town,C,\nC01001,村,village,C01,三万\n",
                    encoding="utf-8")
    result = runner.invoke(app, ["org", "import", str(path)])
    assert result.exit_code == 2
    assert "第3行 kind：只能是 county（县）、township（乡镇）、village（村）或 unit（派出单位）" in result.output
    assert "第4行 collective_income：应为整数" in result.output
    assert "Input should" not in result.output


def test_a_command_that_writes_says_which_database_first(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "org.csv"
    path.write_text("code,name,kind,parent\nC,县,county,\n", encoding="utf-8")
    result = runner.invoke(app, ["org", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert f"数据库：{engine.url.render_as_string(hide_password=True)}" in result.output
