"""The year-end assessment ledger (年度考核台账): per township and year, a row per target of its campaigns (the
requirement, the value, met or not, what falls short, the evidence and the document), then a row per escalation,
accountability case, rating consequence and gate-check override — the rows ``GET /api/v1/assessments/{township}/{year}``
returns, for every township the caller may see — and, unless one township is asked for, a row per dispatching
unit's assessment (the ``units`` of ``GET /api/v1/assessments?year=``)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from domain import accountability as case_rules
from domain.vocabulary import CaseStatus, EscalationStatus, zh_date
from tasks.accounts import Principal
from tasks.ledger.excel import Column
from tasks.ledger.registry import Ledger, LedgerFilters, Rows, register
from tasks.reads.assessments import assessment_years, assessments
from tasks.reads.stationing_assessment import list_unit_assessments


def _target_rows(a: dict[str, Any]) -> Rows:
    return [{
        "kind": "目标", "definition_name": c["definition_name"], "item": t["name"], "requirement": t["requirement"],
        "value": t["value"], "status": t["status_label"], "shortfalls": "；".join(t["shortfalls"]),
        "evidence": "；".join(t["evidence"]), "source": t["source"],
    } for c in a["campaigns"] for t in c["targets"]]


def _other_rows(a: dict[str, Any], names: dict[int, str]) -> Rows:
    rows: Rows = [{
        "kind": "督办", "definition_name": names.get(e["campaign_id"], ""), "item": e["trigger_label"],
        "requirement": e["level_name"], "value": e["reason"], "status": EscalationStatus.label_of(e["status"]),
        "evidence": f"督办记录{e['id']}号，{zh_date(e['created_at'])}", "source": "",
    } for e in a["escalations"]]
    rows += [{
        "kind": "问责", "definition_name": names.get(k["campaign_id"], ""), "item": k["trigger_label"],
        "requirement": k["decision_label"] or "", "value": k["reason"], "status": CaseStatus.label_of(k["status"]),
        "shortfalls": k["rating_effect_label"] or "", "evidence": f"问责案件{k['id']}号，{zh_date(k['created_at'])}",
        "source": "",
    } for k in a["cases"]]
    if a["rating"]:
        rows.append({"kind": "考核影响", "item": a["rating"]["cap_label"] or "",
                     "value": case_rules.RATING_EFFECT_LABELS.get(a["rating"]["cap"] or "", ""),
                     "evidence": "、".join(f"问责案件{k['id']}号" for k in a["rating"]["cases"])})
    if a.get("desk") and a["desk"]["assigned"]:  # the 督办 desk's score of the year, with its rule
        d = a["desk"]
        rows.append({"kind": "督办台评分", "item": f"交办{d['assigned']}件，按期办结{d['on_time']}件",
                     "value": d["score"], "requirement": d["rule"],
                     "shortfalls": f"逾期办结{d['late']}件，逾期未办结{d['overdue']}件，延期{d['extensions']}次，"
                                   f"督办升级{d['levels']}次，问责{d['cases']}件"})
    rows += [{"kind": "否决复核", "item": str(o.get("check", "")), "requirement": str(o.get("gate", "")),
              "value": str(o.get("reason", "")), "evidence": f"{o.get('by', '')} {zh_date(o.get('at'))}".strip()}
             for o in a["overrides"]]
    return rows


def assessment_rows(session: Session, principal: Principal, filters: LedgerFilters) -> Rows:
    """As ``GET /api/v1/assessments/{township}/{year}`` for each township the caller may see (or the one named),
    for the year asked (every campaign year when none is)."""
    years = [filters.year] if filters.year is not None else sorted(assessment_years(session, principal))
    out: Rows = []
    for year in years:
        for a in assessments(session, principal, year, township=filters.township):
            names = {c["id"]: c["definition_name"] for c in a["campaigns"]}
            head = {"township": a["township"], "township_name": a["township_name"], "year": year}
            out += [head | row for row in [*_target_rows(a), *_other_rows(a, names)]]
        if filters.township is None:
            out += _unit_rows(session, principal, year)
    return out


def _unit_rows(session: Session, principal: Principal, year: int) -> Rows:
    """The dispatching units' assessments of ``year`` (the ``units`` of ``GET /api/v1/assessments?year=``)."""
    return [{
        "township": u["unit"], "township_name": u["unit_name"], "year": year, "kind": "派出单位考核",
        "item": "完成选派干部下基层驻农村任务", "requirement": f"拟评{u['proposed_label']}",
        "value": u["shortfall"] or "已选派并驻村到位", "status": u["final_label"],
        "shortfalls": "未完成选派任务，降一档处理" if u["downgraded"] else "",
        "source": "003_0d1c8490fe7db56e.txt §四(五)",
    } for u in list_unit_assessments(session, principal, year=year)]


register(Ledger(
    name="assessments", title="年度考核",
    description="每个乡镇每年一组：各项目标的要求、实际、是否达标、未达到的村或期次、依据和出处，以及当年督办、问责、考核影响和否决复核。",
    columns=(
        Column("乡镇编码", "township"), Column("乡镇", "township_name"), Column("年度", "year", "int"),
        Column("类别", "kind"), Column("督办类型", "definition_name"), Column("事项", "item", width=30),
        Column("要求", "requirement", width=24), Column("实际", "value", width=40), Column("结论", "status"),
        Column("未达到的", "shortfalls", width=40), Column("依据", "evidence", width=60), Column("出处", "source", width=30),
    ),
    rows=assessment_rows, filters=frozenset({"township", "year"}),
))
