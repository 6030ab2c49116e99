"""Importing the organisation hierarchy: all or nothing, errors with line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from core.db import session_scope
from domain.errors import ValidationFailed
from models import OrgUnit
from tasks.org import demo_county_rows, import_org_units, read_org_file

CSV_OK = """code,name,kind,parent,collective_income,key_contact_class
T,测试县,county,,,
T01,一镇,township,T,,
T01001,甲村,village,T01,25000,B
T01002,乙村,village,T01,,
"""


def count(engine: Engine) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(OrgUnit)).one()


def test_csv_import_creates_the_tree(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "org.csv"
    path.write_text(CSV_OK, encoding="utf-8")
    with session_scope(engine) as s:
        assert import_org_units(s, read_org_file(path)) == {"created": 4, "updated": 0}
    with Session(engine) as s:
        village = s.exec(select(OrgUnit).where(OrgUnit.code == "T01001")).one()
        township = s.get(OrgUnit, village.parent_id)
        assert township is not None and township.code == "T01"
        assert (village.collective_income, village.key_contact_class) == (25000, "B")
    # Importing again updates by code and creates nothing.
    path.write_text(CSV_OK.replace("甲村", "甲村（新）"), encoding="utf-8")
    with session_scope(engine) as s:
        assert import_org_units(s, read_org_file(path)) == {"created": 0, "updated": 4}
    assert count(engine) == 4


def test_yaml_import_with_line_numbers(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "org.yaml"
    path.write_text(
        "units:\n"
        "  - {code: T, name: 测试县, kind: county}\n"
        "  - {code: T01, name: 一镇, kind: township, parent: T}\n"
        "  - code: T01001\n"
        "    name: 甲村\n"
        "    kind: village\n"
        "    parent: T01\n"
        "    key_contact_class: Z\n",
        encoding="utf-8",
    )
    with pytest.raises(ValidationFailed) as info, session_scope(engine) as s:
        import_org_units(s, read_org_file(path), source=path.name)
    assert info.value.errors == [{"line": 4, "field": "key_contact_class", "message": info.value.errors[0]["message"]}]
    assert "第4行" in info.value.detail and "org.yaml" in info.value.detail
    assert count(engine) == 0


@pytest.mark.parametrize(
    ("bad_line", "field"),
    [
        ("T01003,丙村,village,NOPE,,", "parent"),
        ("T01003,丙村,village,T,,", "parent"),  # a village under a county
        ("T01001,重复村,village,T01,,", "code"),
        ("T01003,丙村,hamlet,T01,,", "kind"),
        ("T01003,丙村,village,T01,-5,", "collective_income"),
        ("T01003,,village,T01,,", "name"),
        ("T0 1003,丙村,village,T01,,", "code"),
    ],
)
def test_a_bad_row_imports_nothing(engine: Engine, tmp_path: Path, bad_line: str, field: str) -> None:
    path = tmp_path / "org.csv"
    path.write_text(CSV_OK + bad_line + "\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as info, session_scope(engine) as s:
        import_org_units(s, read_org_file(path), source=path.name)
    assert any(e["line"] == 6 and e["field"] == field for e in info.value.errors), info.value.errors
    assert count(engine) == 0


def test_unsupported_file_type(tmp_path: Path) -> None:
    path = tmp_path / "org.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(ValidationFailed, match="csv"):
        read_org_file(path)


def test_demo_county_is_deterministic_and_large_enough(engine: Engine) -> None:
    rows = demo_county_rows()
    assert rows == demo_county_rows()
    kinds = [r["kind"] for _, r in rows]
    assert kinds.count("township") >= 10 and kinds.count("village") >= 100
    with session_scope(engine) as s:
        import_org_units(s, rows)
    assert count(engine) == len(rows)
