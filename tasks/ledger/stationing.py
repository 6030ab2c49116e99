"""The stationing plan ledger (选派安排表, 003_0d1c8490fe7db56e.txt §三(二)): a row per village team of a year's
plan in the county's columns — the rows ``GET /api/v1/stationing/plans/{year}/rows`` returns, for the caller's
townships (or the one named). Without a year filter, the latest plan's year."""

from __future__ import annotations

from sqlmodel import Session, col, select

from core.clock import china_date, get_clock
from models import StationingPlan
from tasks.accounts import Principal
from tasks.ledger.excel import Column
from tasks.ledger.registry import Ledger, LedgerFilters, Rows, register
from tasks.reads.stationing import plan_rows


def stationing_rows(session: Session, principal: Principal, filters: LedgerFilters) -> Rows:
    """As ``GET /api/v1/stationing/plans/{year}/rows`` (of ``filters.township`` when given)."""
    year = filters.year
    if year is None:
        year = session.exec(select(StationingPlan.year).order_by(col(StationingPlan.year).desc())).first()
        if year is None:
            return []
    today = china_date(get_clock().now())
    return plan_rows(session, principal, year, today=today, township=filters.township)


register(Ledger(
    name="stationing-plan", title="驻村干部选派安排表",
    description="每年一表：每村一个工作组，含集体经济收入、应派人数、派出单位、组长及挂任职务、驻村干部和到位日期。",
    columns=(
        Column("序号", "index", "int"), Column("乡镇", "township"), Column("村", "village"),
        Column("集体经济年纯收入（元）", "collective_income", "int"), Column("应派人数", "required_size", "int"),
        Column("派出单位", "unit", width=24), Column("工作组组长", "leader"), Column("挂任职务", "leader_post"),
        Column("驻村干部", "cadres", width=30), Column("到位日期", "arrived_on", width=24), Column("备注", "note", width=40),
    ),
    rows=stationing_rows, filters=frozenset({"township", "year"}),
))
