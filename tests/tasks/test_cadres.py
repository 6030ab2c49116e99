"""Dispatching units, cadres and leaders (003 三(一)(二)): all-or-nothing imports with errors per row."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from core.db import session_scope
from domain.errors import ValidationFailed
from models import Cadre, Leader, OrgUnit
from tasks.cadres import import_cadres, import_leaders
from tasks.org import import_org_units


def _count(engine: Engine, table: type) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(table)).one()


def test_a_dispatching_unit_needs_its_level_and_establishment(demo_county: Engine) -> None:
    rows = [(2, {"code": "QXD90", "name": "县水利局", "kind": "unit", "parent": "QX"}),
            (3, {"code": "QXD91", "name": "县林业局", "kind": "unit", "parent": "QX01",
                 "unit_level": "county", "establishment_size": "30"}),
            (4, {"code": "QX01999", "name": "丙村", "kind": "village", "parent": "QX01", "establishment_size": 5})]
    with pytest.raises(ValidationFailed) as refused, session_scope(demo_county) as s:
        import_org_units(s, rows)
    assert refused.value.errors == [
        {"line": 2, "field": "unit_level",
         "message": "派出单位必须填写单位级别：county（县直）、city（市驻县）或 province（省驻县）"},
        {"line": 2, "field": "establishment_size", "message": "派出单位必须填写编制人数"},
        {"line": 3, "field": "parent", "message": "派出单位的上级应为县，QX01 是乡镇"},
        {"line": 4, "field": "kind", "message": "单位级别和编制人数只适用于派出单位"},
    ]
    with session_scope(demo_county) as s:
        assert import_org_units(s, [(2, {"code": "QXD90", "name": "县水利局", "kind": "unit", "parent": "QX",
                                         "unit_level": "county", "establishment_size": "40"})])["created"] == 1
    with Session(demo_county) as s:
        unit = s.exec(select(OrgUnit).where(OrgUnit.code == "QXD90")).one()
        assert (unit.unit_level, unit.establishment_size) == ("county", 40)


def test_cadre_import_is_all_or_nothing_with_errors_per_row(demo_county: Engine) -> None:
    before = _count(demo_county, Cadre)
    rows = [(2, {"code": "NEW-1", "name": "邓小红", "unit": "QXD02", "post": "科员", "phone": "13800000001"}),
            (3, {"code": "NEW-2", "name": "钱多多", "unit": "QX01001", "post": "科员"}),
            (4, {"code": "NEW-3", "name": "孙一", "unit": "NOPE", "post": "科员"}),
            (5, {"code": "NEW-1", "name": "重名", "unit": "QX01", "post": "镇干部", "phone": "电话"}),
            (6, {"code": "NEW-5", "name": "", "unit": "QX01", "post": "镇干部"})]
    with pytest.raises(ValidationFailed) as refused, session_scope(demo_county) as s:
        import_cadres(s, rows, source="cadres.csv")
    assert refused.value.errors == [
        {"line": 3, "field": "unit", "message": "QX01001 不是派出单位或乡镇，驻村干部只能由派出单位或乡镇选派"},
        {"line": 4, "field": "unit", "message": "派出单位编码 NOPE 不存在"},
        {"line": 5, "field": "phone", "message": "联系电话只能包含数字、空格、+、-和括号"},
        {"line": 6, "field": "name", "message": "不能为空"},
    ]
    assert refused.value.detail.startswith("导入失败，未导入任何数据。cadres.csv 第3行 unit：")
    assert _count(demo_county, Cadre) == before
    with session_scope(demo_county) as s:
        assert import_cadres(s, rows[:1]) == {"created": 1, "updated": 0}
        assert import_cadres(s, [(2, {**rows[0][1], "post": "副科长"})]) == {"created": 0, "updated": 1}
    with Session(demo_county) as s:
        cadre = s.exec(select(Cadre).where(Cadre.code == "NEW-1")).one()
        assert (cadre.post, cadre.phone) == ("副科长", "13800000001")


def test_duplicate_codes_in_one_file_are_named(demo_county: Engine) -> None:
    row = {"code": "X1", "name": "甲", "unit": "QXD01", "post": "科员"}
    with pytest.raises(ValidationFailed) as refused, session_scope(demo_county) as s:
        import_cadres(s, [(2, row), (3, row)])
    assert refused.value.errors == [{"line": 3, "field": "code", "message": "编码 X1 与第2行重复"}]


def test_each_leader_contacts_one_village_of_its_township(demo_county: Engine) -> None:
    rows = [(2, {"code": "LD-1", "name": "黄书记", "level": "county", "post": "县委副书记", "village": "QX02003"}),
            (3, {"code": "LD-2", "name": "蓝镇长", "level": "township", "post": "镇长", "village": "QX02"}),
            (4, {"code": "LD-3", "name": "白主任", "level": "city", "post": "主任", "village": "QX02004"})]
    with pytest.raises(ValidationFailed) as refused, session_scope(demo_county) as s:
        import_leaders(s, rows)
    assert [(e["line"], e["field"]) for e in refused.value.errors] == [(3, "village"), (4, "level")]
    assert [e["message"] for e in refused.value.errors] == [
        "QX02 不是村，挂点领导每人包一个村", "只能是 county（县领导）或 township（镇领导）"]
    with session_scope(demo_county) as s:
        assert import_leaders(s, rows[:1]) == {"created": 1, "updated": 0}
    with Session(demo_county) as s:
        leader = s.exec(select(Leader).where(Leader.code == "LD-1")).one()
        township = s.get(OrgUnit, leader.township_id)
        assert township is not None and township.code == "QX02"


def test_the_demo_county_has_units_cadres_and_leaders(demo_county: Engine) -> None:
    with Session(demo_county) as s:
        units = s.exec(select(OrgUnit).where(OrgUnit.kind == "unit")).all()
        assert {u.unit_level for u in units} == {"county", "city", "province"}
        assert all(u.establishment_size for u in units)
    assert _count(demo_county, Cadre) == 285 // 5 + 12 * 3
    assert _count(demo_county, Leader) == 12 * 3
