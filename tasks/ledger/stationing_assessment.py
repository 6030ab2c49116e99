"""The stationing programme's assessment ledgers (003 四(五)): 驻村干部年度考核（工作鉴定） — the rows of
``GET /api/v1/cadre-assessments``; 派出单位选派任务完成情况及考核等次 — the rows of ``GET /api/v1/unit-assessments``;
验收情况 — the villages and townships of ``GET /api/v1/programmes/{id}/acceptance``, for every programme."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from models import Programme
from tasks.accounts import Principal
from tasks.ledger.excel import Column
from tasks.ledger.registry import Ledger, LedgerFilters, Rows, register
from tasks.reads import stationing_assessment as reads

EVERY = 2**31 - 1


def cadre_assessment_rows(session: Session, principal: Principal, filters: LedgerFilters) -> Rows:
    """As ``GET /api/v1/cadre-assessments?year=&township=``, every row."""
    return reads.list_cadre_assessments(session, principal, year=filters.year, township=filters.township,
                                        limit=EVERY).items


def unit_assessment_rows(session: Session, principal: Principal, filters: LedgerFilters) -> Rows:
    """As ``GET /api/v1/unit-assessments?year=``."""
    return [a | {"dispatch": "已完成" if a["dispatch_completed"] else "未完成",
                 "downgrade": "降一档" if a["downgraded"] else ""}
            for a in reads.list_unit_assessments(session, principal, year=filters.year)]


def _verdict(v: dict[str, Any] | None) -> str:
    if v is None:
        return ""
    return f"{v['year']}年{'合格' if v['passed'] else '不合格'}" + (f"：{v['note']}" if v["note"] else "")


def acceptance_rows(session: Session, principal: Principal, filters: LedgerFilters) -> Rows:
    """As ``GET /api/v1/programmes/{id}/acceptance`` for each programme: a row per township, then one per
    village of it (only ``township``'s when given)."""
    out: Rows = []
    for programme in session.exec(select(Programme).order_by(col(Programme.start_year))):
        view = reads.acceptance_overview(session, principal, programme.id or 0)
        for t in view["townships"]:
            if filters.township is not None and t["township"] != filters.township:
                continue
            head = {"programme": programme.name, "township": t["township"], "township_name": t["township_name"]}
            out.append(head | {"kind": "乡镇", "subject": t["township"], "subject_name": t["township_name"],
                               "county": _verdict(t["county_verdict"]), "status": t["status_label"]})
            out += [head | {"kind": "村", "subject": v["village"], "subject_name": v["village_name"],
                            "township_verdict": _verdict(v["township_verdict"]), "county": _verdict(v["county_verdict"]),
                            "status": v["status_label"]} for v in t["villages"]]
    return out


register(Ledger(
    name="cadre-assessments", title="驻村干部年度考核（工作鉴定）",
    description="每名驻村干部每年一行：派出单位、驻点乡镇、当年工作日记篇数、鉴定等次、工作鉴定和县委组织部审定情况。",
    columns=(
        Column("年度", "year", "int"), Column("干部编码", "cadre"), Column("姓名", "cadre_name"),
        Column("派出单位", "unit_name", width=24), Column("驻点乡镇", "township_name"),
        Column("工作日记（篇）", "diary_entries", "int"), Column("鉴定等次", "grade_label"),
        Column("审定状态", "status_label"), Column("工作鉴定", "appraisal", width=60),
        Column("审定意见", "decision_note", width=30), Column("审定时间", "decided_at", "datetime"),
    ),
    rows=cadre_assessment_rows, filters=frozenset({"township", "year"}),
))

register(Ledger(
    name="unit-assessments", title="派出单位选派任务完成情况及考核等次",
    description="每个派出单位每年一行：编制人数、是否完成选派和驻村任务、未完成的情况、拟评等次和降级后的考核等次。",
    columns=(
        Column("年度", "year", "int"), Column("单位编码", "unit"), Column("派出单位", "unit_name", width=24),
        Column("编制人数", "establishment_size", "int"), Column("选派任务", "dispatch"),
        Column("未完成的情况", "shortfall", width=60), Column("拟评等次", "proposed_label"),
        Column("考核等次", "final_label"), Column("降级处理", "downgrade"),
    ),
    rows=unit_assessment_rows, filters=frozenset({"year"}),
))

register(Ledger(
    name="acceptances", title="验收情况",
    description="每个三年工作计划的分级验收：每个乡镇一行（县验收），其下每个村一行（乡镇验收、县验收），及验收状态。",
    columns=(
        Column("工作计划", "programme", width=30), Column("乡镇编码", "township"), Column("乡镇", "township_name"),
        Column("类别", "kind"), Column("编码", "subject"), Column("名称", "subject_name"),
        Column("乡镇验收", "township_verdict", width=30), Column("县验收", "county", width=40),
        Column("验收状态", "status"),
    ),
    rows=acceptance_rows, filters=frozenset({"township"}),
))
