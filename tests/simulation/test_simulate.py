"""``duban simulate``: a small county through a whole weak-village rectification campaign on a virtual
clock, with the real tick steps, outbox, SMTP delivery (aiosmtpd), an SMTP outage, a process restart
and a clock jump; the invariants hold, the summary matches the database, and the same seed gives the
same numbers."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func
from sqlmodel import Session, select

from models import AccountabilityCase, Escalation, Obligation, OfficialDocument, OutboxMessage, ReminderLog
from simulation import SimulationConfig, run_simulation
from tests.support.soak import record, size

CONFIG = dict(townships=4, villages=3, year=2026, seed=7, on_time=1.0, late=1.0, never=1.0, hollow=1.0,
              smtp_outage_days=5, restarts=1, clock_jump=6)


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, str, Path]:
    root = tmp_path_factory.mktemp("simulate")
    url = f"sqlite:///{root / 'sim.db'}"
    report = root / "report.html"
    result = run_simulation(SimulationConfig(**CONFIG, database_url=url, report=report))  # type: ignore[arg-type]
    return result, url, report


def test_a_campaign_year_keeps_every_invariant(full_run: tuple[object, str, Path]) -> None:
    result, _, _ = full_run
    failed = [(i.name, i.problems) for i in result.invariants if not i.ok]  # type: ignore[attr-defined]
    assert failed == []
    s = result.summary  # type: ignore[attr-defined]
    assert s["period"][0] == "2026-09-01" and s["days"] > 400
    assert {t["profile"] for t in s["townships"]} == {"on_time", "late", "never", "hollow"}
    # every kind of outcome and fault actually happened
    ob = s["obligations"]
    assert ob["on_time"] > 0 and ob["late"] > 0 and ob["missed"] > 0
    assert s["escalations_by_trigger"].get("hollow_report", 0) > 0 and s["cases"] > 0  # hollow reports sent back
    assert s["submissions"]["returns"] > 0 and s["mail"]["retried"] > 0
    assert s["faults"]["smtp_outage"] and s["faults"]["restarts"] and s["faults"]["clock_jump"]
    assert s["mail"]["received"] == s["mail"]["outbox"] == s["mail"]["sent"]


def test_the_summary_is_what_the_database_holds(full_run: tuple[object, str, Path]) -> None:
    result, url, _ = full_run
    s = result.summary  # type: ignore[attr-defined]
    engine = create_engine(url)
    try:
        with Session(engine) as db:
            statuses = Counter(db.exec(select(Obligation.status)))
            logs = list(db.exec(select(ReminderLog.offset)))
            levels = Counter(db.exec(select(Escalation.level)))
            cases = db.exec(select(func.count()).select_from(AccountabilityCase)).one()
            documents = db.exec(select(func.count()).select_from(OfficialDocument)).one()
            outbox = Counter(db.exec(select(OutboxMessage.status)))
    finally:
        engine.dispose()
    ob = s["obligations"]
    assert (ob["on_time"], ob["late"], ob["missed"]) == (statuses["met"], statuses["late"], statuses["missed"])
    assert ob["total"] == sum(statuses.values())
    assert s["requests"] == sum(1 for o in logs if o < 0) and s["reminders"] == sum(1 for o in logs if o >= 0)
    assert list(s["escalations"].values()) == [levels.get(i, 0) for i in range(1, len(s["escalations"]) + 1)]
    assert (s["cases"], s["documents"]) == (cases, documents)
    assert outbox == Counter({"sent": s["mail"]["outbox"]})


def test_the_html_report_is_written_in_chinese_with_inline_charts(full_run: tuple[object, str, Path]) -> None:
    _, _, report = full_run
    html = report.read_text(encoding="utf-8")
    for heading in ("督办模拟运行报告", "运行摘要", "事项完成情况", "升级督办（按级别）", "邮件", "各乡镇情况", "故障注入", "不变量检查"):
        assert heading in html
    assert '<html lang="zh-CN">' in html and html.count("<svg") >= 4
    external = html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "http://" not in external and "https://" not in external  # no external assets
    assert "违反" not in html.split("不变量检查")[1].split("耗时")[0]


def test_the_same_seed_gives_the_same_summary() -> None:
    short = dict(CONFIG, days=75)
    first = run_simulation(SimulationConfig(**short))  # type: ignore[arg-type]
    second = run_simulation(SimulationConfig(**short))  # type: ignore[arg-type]
    assert first.ok and second.ok
    assert first.summary == second.summary
    assert first.summary["obligations"]["due"] > 0 and first.summary["reminders"] > 0
    assert dt.date.fromisoformat(first.summary["period"][1]) - dt.date.fromisoformat(first.summary["period"][0]) == dt.timedelta(days=74)


def test_the_first_months_on_postgresql_keep_every_invariant(engine: object, backend: str) -> None:
    """The same county on PostgreSQL (the module's full year runs on SQLite): launch, the first 150 days
    with the outage, the restart and the jump, then every invariant."""
    if backend != "postgresql":
        pytest.skip("the SQLite run is the module's whole year (full_run)")
    url = engine.url.render_as_string(hide_password=False)  # type: ignore[attr-defined]
    result = run_simulation(SimulationConfig(**CONFIG, days=150, database_url=url))  # type: ignore[arg-type]
    failed = [(i.name, i.problems) for i in result.invariants if not i.ok]
    assert failed == []
    s = result.summary
    assert s["days"] == 150 - CONFIG["clock_jump"] and s["obligations"]["on_time"] > 0 and s["mail"]["received"] == s["mail"]["sent"] > 0
    assert s["faults"]["smtp_outage"] and s["faults"]["restarts"] and s["faults"]["clock_jump"]


@pytest.mark.soak
def test_three_campaign_years_with_every_fault_keep_every_invariant(tmp_path: Path) -> None:
    """``make soak``: a county through three campaign years with every fault on (SMTP outages, restarts after a
    tick that crashed half-way, a clock jump); its size from ``DUBAN_SOAK_SIM_TOWNSHIPS`` / ``_VILLAGES``."""
    config = SimulationConfig(
        townships=size("DUBAN_SOAK_SIM_TOWNSHIPS", 8), villages=size("DUBAN_SOAK_SIM_VILLAGES", 4), year=2026, years=3,
        seed=11, on_time=0.5, late=0.2, never=0.15, hollow=0.15, smtp_outage_days=5, restarts=3, clock_jump=6,
        database_url=f"sqlite:///{tmp_path / 'soak.db'}")
    error = None
    result = None
    try:
        result = run_simulation(config)
    except BaseException as exc:
        error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        raise
    finally:
        s = result.summary if result is not None else {}
        mail = s.get("mail", {})
        failed = [i.name for i in result.invariants if not i.ok] if result is not None else []
        record("simulation", "sqlite", test=f"{config.townships}x{config.villages}, 3 years", days=s.get("days", 0),
               townships=config.townships, villages=config.townships * config.villages,
               obligations=s.get("obligations", {}).get("total", 0), mail=mail.get("outbox", 0),
               received=mail.get("received", 0), invariants=len(result.invariants) if result is not None else 0,
               lost=mail.get("outbox", 0) - mail.get("sent", 0) + max(mail.get("sent", 0) - mail.get("received", 0), 0),
               duplicated=max(mail.get("received", 0) - mail.get("sent", 0), 0),
               error=error or ("; ".join(failed) if failed else None), faults=s.get("faults"),
               seconds=round(result.timings.get("total", 0.0), 1) if result is not None else None)
    assert [(i.name, i.problems) for i in result.invariants if not i.ok] == []
    assert result.summary["faults"]["smtp_outage"] and result.summary["faults"]["restarts"]
    assert result.summary["faults"]["clock_jump"]
    start, end = (dt.date.fromisoformat(d) for d in result.summary["period"])
    assert end - start > dt.timedelta(days=2 * 365)  # the three years' campaigns ran, not only the first
