"""The work-record ledgers (003 §三(一), §四(三)(六)): 驻村工作日记, 领导挂点到村情况 and 派出单位季度报告 — each the rows
its API list returns (``GET /api/v1/diaries``, ``/leader-visits``, ``/unit-reports``), in the same scope, with the
county's usual Chinese columns."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from tasks.accounts import Principal
from tasks.ledger.excel import Column
from tasks.ledger.registry import Ledger, LedgerFilters, Rows, register
from tasks.reads import work_records as reads


def _year(filters: LedgerFilters) -> tuple[dt.date | None, dt.date | None]:
    if filters.year is None:
        return None, None
    return dt.date(filters.year, 1, 1), dt.date(filters.year, 12, 31)


def diary_rows(session: Session, principal: Principal, filters: LedgerFilters) -> Rows:
    start, end = _year(filters)
    return reads.list_diaries(session, principal, township=filters.township, start=start, end=end,
                              limit=reads.EVERY).items


def visit_rows(session: Session, principal: Principal, filters: LedgerFilters) -> Rows:
    return reads.list_visits(session, principal, township=filters.township, year=filters.year,
                             limit=reads.EVERY).items


def report_rows(session: Session, principal: Principal, filters: LedgerFilters) -> Rows:
    return reads.list_unit_reports(session, principal, year=filters.year, unit=filters.township,
                                   status=filters.status, limit=reads.EVERY).items


register(Ledger(
    name="diaries", title="驻村工作日记",
    description="驻村干部的工作日记，每篇一行：日期、乡镇、村、驻村干部、派出单位、地点、工作内容、帮扶措施、工作成效（003 四(三)）。",
    columns=(
        Column("日期", "entry_date"), Column("乡镇", "township_name"), Column("村", "village_name"),
        Column("驻村干部", "cadre_name"), Column("派出单位", "unit_name", width=20), Column("地点", "place", width=20),
        Column("工作内容", "work", width=50), Column("帮扶措施", "help_given", width=40),
        Column("工作成效", "results", width=40),
    ),
    rows=diary_rows, filters=frozenset({"township", "year"}),
))

register(Ledger(
    name="leader-visits", title="领导挂点到村情况",
    description="领导到挂钩联系点调研指导，每次一行，含该领导当半年的到点次数（003 三(一)：县领导每半年不少于3次）。",
    columns=(
        Column("领导", "leader_name"), Column("职务", "post", width=20), Column("乡镇", "township_name"),
        Column("联系村", "village_name"), Column("日期", "visited_on"), Column("调研指导内容", "purpose", width=50),
        Column("半年", "half_year"), Column("半年次数", "half_year_visits", "int"),
    ),
    rows=visit_rows, filters=frozenset({"township", "year"}),
))

register(Ledger(
    name="unit-reports", title="派出单位季度报告",
    description="乡镇和派出单位每季度向县委基层办的书面报告，含报送时从工作记录统计的人数和次数（003 四(六)）。",
    columns=(
        Column("单位", "unit_name", width=24), Column("年度", "year", "int"), Column("季度", "quarter", "int"),
        Column("工作进展情况", "progress", width=50), Column("存在的问题", "problems", width=40),
        Column("下步打算", "next_steps", width=40), Column("记录统计", "counts_text", width=50),
        Column("状态", "status_label"), Column("审阅意见", "review_note", width=30),
    ),
    rows=report_rows, filters=frozenset({"township", "year", "status"}),
))
