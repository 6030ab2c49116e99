"""Ledgers (台账) below the API: the workbook writer, reading uploads, the registry and the org import from
Excel (all rows or none, errors by row and column)."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from core.clock import CHINA_TZ
from core.db import session_scope
from domain.errors import NotFound, ValidationFailed
from models import AuditEvent, OrgUnit
from tasks import ledger
from tasks.registry import get_definition
from tests.support.workbooks import xlsx
from tests.support.world import as_user

NOW = dt.datetime(2025, 11, 3, 9, 0, tzinfo=CHINA_TZ)


def counts(engine: Engine) -> tuple[int, int]:
    with Session(engine) as s:
        return (s.exec(select(func.count()).select_from(OrgUnit)).one(),
                s.exec(select(func.count()).select_from(AuditEvent)).one())


def test_workbook_has_a_frozen_bold_filtered_header_and_typed_cells() -> None:
    columns = (ledger.Column("编号", "id", "int"), ledger.Column("事项", "title"), ledger.Column("截止日", "due_on", "date"),
               ledger.Column("时间", "at", "datetime"), ledger.Column("备注", "note"))
    rows = [
        {"id": 1, "title": "上报相对后进薄弱村党组织名单", "due_on": dt.date(2027, 10, 8),
         "at": dt.datetime(2027, 3, 1, 1, 30, tzinfo=dt.UTC), "note": "=HYPERLINK(\"http://x\")"},
        {"id": 2, "title": "季度报告", "due_on": "2027-12-20", "at": None, "note": "控制\x01字符"},
    ]
    book = load_workbook(io.BytesIO(ledger.write_workbook("截止事项", columns, rows)))
    sheet = book.worksheets[0]
    assert sheet.title == "截止事项"
    assert [c.value for c in sheet[1]] == ["编号", "事项", "截止日", "时间", "备注"]
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:E3"
    first, second = [[c for c in row] for row in sheet.iter_rows(min_row=2)]
    assert first[0].value == 1 and first[0].data_type == "n"
    assert first[2].value == dt.datetime(2027, 10, 8) and first[2].is_date
    assert first[2].number_format == ledger.DATE_FORMAT == 'yyyy"年"m"月"d"日"'
    assert first[3].value == dt.datetime(2027, 3, 1, 9, 30)  # China time, as the county reads it
    assert first[4].value == "=HYPERLINK(\"http://x\")" and first[4].data_type == "s"  # text, never a formula
    assert second[2].value == dt.datetime(2027, 12, 20) and second[2].is_date  # ISO text from JSON data
    assert second[3].value is None
    assert second[4].value == "控制字符"
    assert sheet.column_dimensions["B"].width >= len("上报相对后进薄弱村党组织名单") * 2
    assert sheet.column_dimensions["C"].width == 16


def test_an_empty_ledger_still_has_its_header() -> None:
    sheet = load_workbook(io.BytesIO(ledger.write_workbook("督办记录", (ledger.Column("编号", "id", "int"),), []))).worksheets[0]
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [["编号"]]


# ---- the registry --------------------------------------------------------------------------------------------


def test_a_new_ledger_is_one_registry_entry(demo_county: Engine) -> None:
    def rows(session: Session, principal: Any, filters: ledger.LedgerFilters) -> ledger.Rows:
        return [{"id": 7, "name": "示例", "opened_on": dt.date(2027, 5, 6)}]

    ledger.register(ledger.Ledger(name="cases", title="问责案件", rows=rows, filters=frozenset({"year"}),
                                  roles=frozenset({"admin"}),
                                  columns=(ledger.Column("编号", "id", "int"), ledger.Column("名称", "name"),
                                           ledger.Column("立案日期", "opened_on", "date"))))
    try:
        with Session(demo_county) as s:
            admin, liaison = as_user(s, "admin"), as_user(s, "qx01-liaison")
            content, filename = ledger.export_ledger(s, admin, "cases", ledger.LedgerFilters(year=2027), NOW)
            assert filename == "督办台账-问责案件-2027.xlsx"
            sheet = load_workbook(io.BytesIO(content)).worksheets[0]
            assert [c.value for c in sheet[2]] == [7, "示例", dt.datetime(2027, 5, 6)]
            assert "cases" in [x.name for x in ledger.visible_ledgers(admin)]
            assert "cases" not in [x.name for x in ledger.visible_ledgers(liaison)]
            with pytest.raises(Exception) as refused:
                ledger.export_ledger(s, liaison, "cases", ledger.LedgerFilters(), NOW)
            assert getattr(refused.value, "status", None) == 403
    finally:
        ledger.LEDGERS.pop("cases", None)


def test_unknown_ledger_and_unsupported_filter(demo_county: Engine) -> None:
    with Session(demo_county) as s:
        admin = as_user(s, "admin")
        with pytest.raises(NotFound):
            ledger.export_ledger(s, admin, "nope", ledger.LedgerFilters(), NOW)
        with pytest.raises(ValidationFailed) as bad:
            ledger.export_ledger(s, admin, "rectifications", ledger.LedgerFilters(year=2025), NOW)
        assert bad.value.errors == [{"field": "year", "message": "not a filter of this ledger"}]
        _, filename = ledger.export_ledger(s, admin, "campaigns", ledger.LedgerFilters(), NOW)
        assert filename == "督办台账-督办任务-20251103.xlsx"


def test_plan_columns_are_the_village_plan_form() -> None:
    form = get_definition("weak_village_rectification").form(ledger.PLAN_FORM)
    fields = [(f.label, f.key, "date" if f.type.value == "date" else "text") for f in form.fields if f.type.value != "villages"]
    assert [(c.header, c.key, c.kind) for c in ledger.PLAN_COLUMNS] == fields


# ---- reading uploads -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("content", "filename", "status", "words"), [
    (b"PK\x03\x04 not really a zip", "org.xlsx", 422, "已损坏"),
    (b"code,name,kind\nT,Test,county\n", "org.csv", 415, ".xlsx"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old excel", "org.xls", 415, "另存为"),
    (b"", "org.xlsx", 422, "空文件"),
    (b"PK" + b"\0" * (ledger.MAX_UPLOAD_BYTES + 1), "org.xlsx", 413, "MB"),
])
def test_bad_files_are_refused_with_a_clear_status(content: bytes, filename: str, status: int, words: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        ledger.read_xlsx(content, filename)
    assert refused.value.status == status
    assert words in refused.value.detail


def test_a_zip_that_is_not_a_workbook_is_corrupt() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("hello.txt", "你好")
    with pytest.raises(ValidationFailed) as refused:
        ledger.read_xlsx(buffer.getvalue(), "x.xlsx")
    assert refused.value.status == 422


def test_a_workbook_that_unpacks_to_too_much_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/sharedStrings.xml", b"\0" * (ledger.MAX_UNPACKED_BYTES + 1))
    assert len(buffer.getvalue()) < ledger.MAX_UPLOAD_BYTES
    with pytest.raises(ValidationFailed) as refused:
        ledger.read_xlsx(buffer.getvalue(), "bomb.xlsx")
    assert refused.value.status == 413


def test_reading_skips_blank_rows_and_keeps_excel_row_numbers() -> None:
    header, rows = ledger.read_xlsx(xlsx([["code", "name", None], ["A", "甲", None], [None, None], ["B", "乙"]]))
    assert header == ["code", "name"]
    assert [(n, cells[:2]) for n, cells in rows] == [(2, ["A", "甲"]), (4, ["B", "乙"])]


# ---- importing the org hierarchy --------------------------------------------------------------------------------


GOOD_ORG = [
    ["code", "name", "kind", "parent", "collective_income", "key_contact_class"],
    ["QX13", "新建镇", "township", "QX", None, None],
    ["QX13001", "新一村", "village", "QX13", 28000, "c"],
    ["QX13002", "新二村", "村", "QX13", 30000.0, None],
    ["QX01001", "改名村", "village", "QX01", None, None],
]


def test_org_import_creates_and_updates_units_with_an_audit_event(demo_county: Engine) -> None:
    before_units, before_events = counts(demo_county)
    with session_scope(demo_county) as s:
        result = ledger.import_org_units_xlsx(s, as_user(s, "admin"), NOW, xlsx(GOOD_ORG), "组织.xlsx")
    assert result == {"rows": 4, "created": 3, "updated": 1}
    assert counts(demo_county) == (before_units + 3, before_events + 1)
    with Session(demo_county) as s:
        units = {u.code: u for u in s.exec(select(OrgUnit).where(OrgUnit.code.in_(["QX13", "QX13001", "QX13002", "QX01001"])))}  # type: ignore[attr-defined]
        assert (units["QX13001"].collective_income, units["QX13001"].key_contact_class) == (28000, "C")
        assert (units["QX13002"].kind, units["QX13002"].parent_id, units["QX13002"].collective_income) == (
            "village", units["QX13"].id, 30000)
        assert units["QX01001"].name == "改名村"
        event = s.exec(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()  # type: ignore[attr-defined]
        assert event is not None and (event.action, event.actor) == ("org.import", "admin")


def test_bad_org_import_reports_each_row_and_writes_nothing(demo_county: Engine) -> None:
    rows = [
        ["编码", "名称", "类型", "上级编码", "集体收入", "重点联系类别"],
        ["QX13", "新建镇", "乡镇", "QX", None, None],
        ["QX13001", "新一村", "村", "QX13", 28000, None],
        ["QX13002", "新二村", "村", "QX99", None, None],   # row 4: unknown parent
        ["QX13003", "新三村", "村", "QX13", "很多", "A"],   # row 5: income not a number, class not B/C
        ["QX13004", None, "村", "QX13", None, None],       # row 6: empty name
        ["QX13001", "重复村", "村", "QX13", None, None],   # row 7: duplicate code
    ]
    before = counts(demo_county)
    with session_scope(demo_county) as s, pytest.raises(ValidationFailed) as failed:
        ledger.import_org_units_xlsx(s, as_user(s, "admin"), NOW, xlsx(rows), "组织.xlsx")
    errors = failed.value.errors
    assert failed.value.status == 422
    assert {(e["row"], e["column"]) for e in errors} == {
        (4, "上级编码"), (5, "集体收入"), (5, "重点联系类别"), (6, "名称"), (7, "编码")}
    by_place = {(e["row"], e["column"]): e["message"] for e in errors}
    assert by_place[(4, "上级编码")] == "上级编码 QX99 不存在"
    assert by_place[(6, "名称")] == "必填"
    assert by_place[(5, "集体收入")] == "应为整数"
    assert "B（市级重点联系）" in by_place[(5, "重点联系类别")]
    assert "第4行“上级编码”" in failed.value.detail and "未导入任何数据" in failed.value.detail
    assert counts(demo_county) == before


def test_org_import_header_problems(demo_county: Engine) -> None:
    with session_scope(demo_county) as s, pytest.raises(ValidationFailed) as failed:
        ledger.import_org_units_xlsx(s, as_user(s, "admin"), NOW, xlsx([["code", "名字", "kind", "备注"], ["X", "x", "county"]]))
    assert {(e["row"], e["column"]) for e in failed.value.errors} == {(1, "名称"), (1, "名字"), (1, "备注")}
    assert "缺少必填列“名称”" in failed.value.detail


def test_only_administrators_import_the_org_hierarchy(demo_county: Engine) -> None:
    with session_scope(demo_county) as s, pytest.raises(Exception) as refused:
        ledger.import_org_units_xlsx(s, as_user(s, "qx01-liaison"), NOW, xlsx(GOOD_ORG))
    assert getattr(refused.value, "status", None) == 403


# ---- the console script ------------------------------------------------------------------------------------------


def test_cli_exports_a_ledger_as_an_account_sees_it(demo_county: Engine, tmp_path: Any) -> None:
    from typer.testing import CliRunner

    from cli.main import app
    from tasks.launch import launch_one

    for township in ("QX01", "QX02"):
        assert launch_one(demo_county, "weak_village_rectification", township, 2025, NOW).status == "created"
    runner = CliRunner()
    target = tmp_path / "义务.xlsx"
    result = runner.invoke(app, ["ledger", "export", "obligations", "--out", str(target), "--user", "qx01-liaison",
                                 "--year", "2025"])
    assert result.exit_code == 0, result.output
    assert "督办台账-截止事项-2025.xlsx" in result.output
    rows = list(load_workbook(target).worksheets[0].iter_rows(min_row=2, values_only=True))
    assert rows and {r[2] for r in rows} == {"青石镇"}
    result = runner.invoke(app, ["ledger", "export", "nothing", "--out", str(target)])
    assert result.exit_code == 2 and "没有名为“nothing”的台账" in result.output
