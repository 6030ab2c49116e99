"""One vocabulary (domain/vocabulary.py): every status duban stores has a Chinese label, every status the
code can write is a member of a status enum, and dates read the same everywhere (China time)."""

from __future__ import annotations

import ast
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import SQLModel

import models  # noqa: F401  (registers every table)
from core.clock import CHINA_TZ
from domain.vocabulary import (
    STATUSES,
    LabelledStatus,
    ObligationStatus,
    StageStatus,
    SubmissionStatus,
    status_label,
    zh_date,
)
from tests.support.statuses import TABLE_KINDS

ROOT = Path(__file__).resolve().parents[2]
APPLICATION = ("api", "cli", "domain", "flows", "models", "notifications", "tasks")
WRITTEN_WITH_ENUMS = ("cli", "domain", "flows", "models", "notifications", "tasks/accountability.py",
                      "tasks/accounts.py", "tasks/launch.py", "tasks/locking.py", "tasks/rectification.py",
                      "tasks/review.py", "tasks/tick.py")
"""Code that names every status by its enum member; the rest of the application follows as it is restructured."""
CJK = re.compile(r"[\u4e00-\u9fff]")

NOT_ROW_STATUSES = {
    "created": "a launch's outcome in the API answer (BatchItem.status), never stored",
    "replayed": "a launch's outcome (same Idempotency-Key)",
    "exists": "a launch's outcome (launched before)",
    "failed": "a launch's outcome",
    "ok": "the health check's answer",
    "ready": "the readiness check's answer (/readyz)",
    "not ready": "the readiness check's answer when a check fails",
    "live": "an escalation list filter meaning open or escalated",
    "all": "an escalation list filter meaning any status",
}
"""Words compared with or written to a field named ``status`` that are not the status of a stored row."""


def test_every_status_has_a_chinese_label() -> None:
    for kind, enum in STATUSES.items():
        assert list(enum), kind
        for member in enum:
            assert CJK.search(member.label), f"{kind}.{member.value} has no Chinese label: {member.label!r}"
            assert status_label(member.value, kind) == member.label


def test_every_status_enum_is_listed_by_kind() -> None:
    assert set(STATUSES.values()) == set(LabelledStatus.__subclasses__())


def test_a_status_reads_by_its_kind() -> None:
    assert status_label("open", "stage") == "进行中"
    assert status_label("open", "escalation") == "督办中"
    assert status_label("open", "case") == "待决定"
    assert status_label("rejected", "submission") == "不予通过"
    assert status_label("closed", "stage") == "已结束"
    assert status_label("no_such_status", "stage") == "no_such_status"
    assert status_label(None, "stage") == status_label("", "stage") == ""
    with pytest.raises(KeyError):
        status_label("open", "no_such_kind")


def test_members_are_the_stored_strings() -> None:
    assert SubmissionStatus.APPROVED == "approved" and str(SubmissionStatus.APPROVED) == "approved"
    assert f"{StageStatus.IN_NOTICE}" == "in_notice"
    assert ObligationStatus("missed") is ObligationStatus.MISSED
    assert SubmissionStatus.labels()["rejected"] == "不予通过"


def test_zh_date() -> None:
    assert zh_date(dt.date(2027, 3, 20)) == "2027年3月20日"
    assert zh_date(dt.date(2027, 11, 5)) == "2027年11月5日"
    assert zh_date(dt.datetime(2027, 3, 20, 23, 30)) == "2027年3月20日"  # naive: taken as it is
    assert zh_date(dt.datetime(2027, 3, 19, 20, 0, tzinfo=dt.UTC)) == "2027年3月20日"  # 04:00 on the 20th in China
    assert zh_date(dt.datetime(2027, 3, 20, 23, 30, tzinfo=CHINA_TZ)) == "2027年3月20日"
    assert zh_date(None) == zh_date("") == ""
    with pytest.raises(TypeError):
        zh_date("2027-03-20")


# ---- every status the code can write is in the vocabulary --------------------------------------------------


def test_every_status_column_default_is_in_its_vocabulary() -> None:
    with_status = {t.name: t for t in SQLModel.metadata.sorted_tables if "status" in t.c}
    assert set(with_status) == set(TABLE_KINDS), "a table with a status column needs its kind in TABLE_KINDS"
    for name, table in with_status.items():
        default = getattr(table.c.status.default, "arg", None)
        assert default in STATUSES[TABLE_KINDS[name]].labels(), (name, default)


def _statusish(node: ast.AST) -> bool:
    """``x.status``, ``status``, ``col(X.status)`` or ``row["status"]``."""
    if isinstance(node, ast.Attribute):
        return node.attr == "status"
    if isinstance(node, ast.Name):
        return node.id == "status"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "col" and node.args:
        return _statusish(node.args[0])
    return isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value == "status"


def _strings(node: ast.AST) -> Iterator[ast.Constant]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node
    elif isinstance(node, ast.Tuple | ast.List | ast.Set):
        for element in node.elts:
            yield from _strings(element)
    elif isinstance(node, ast.IfExp):
        yield from _strings(node.body)
        yield from _strings(node.orelse)


def status_literals(tree: ast.AST) -> Iterator[ast.Constant]:
    """String literals written to or compared with a status: ``status="x"``, ``.status == "x"``,
    ``.status in ("x", "y")``, ``col(X.status).in_([...])``, ``row.status = "x"``, ``{"status": "x"}``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(_statusish(side) for side in (node.left, *node.comparators)):
            for side in (node.left, *node.comparators):
                yield from _strings(side)
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and node.func.attr == "in_" and _statusish(node.func.value):
                for arg in node.args:
                    yield from _strings(arg)
            for keyword in node.keywords:
                if keyword.arg == "status":
                    yield from _strings(keyword.value)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if _statusish(target):
                    yield from _strings(node.value)
                elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    for element, value in zip(target.elts, node.value.elts, strict=False):
                        if _statusish(element):
                            yield from _strings(value)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "status" and value is not None:
                    yield from _strings(value)


def application_sources() -> Iterator[Path]:
    for package in APPLICATION:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def test_the_scan_sees_status_literals() -> None:
    source = 'x.status = "a"\nif s.status in ("b", "c"): pass\nq.where(col(S.status).in_(["d"]))\nf(status="e")\n' \
             'y = {"status": "f"}\nstage.status, stage.passed_on = "g", today\nif row["status"] != "h": pass\n'
    assert sorted(str(c.value) for c in status_literals(ast.parse(source))) == list("abcdefgh")


def test_every_status_literal_in_the_code_is_in_the_vocabulary() -> None:
    known = {member.value for enum in STATUSES.values() for member in enum} | set(NOT_ROW_STATUSES)
    unknown = [f"{path.relative_to(ROOT)}:{c.lineno}: {c.value!r}" for path in application_sources()
               for c in status_literals(ast.parse(path.read_text(encoding="utf-8"))) if c.value not in known]
    assert unknown == [], "a status that is not in domain/vocabulary.py"


def test_statuses_are_named_by_their_enum_members() -> None:
    bare = [f"{path.relative_to(ROOT)}:{c.lineno}: {c.value!r}" for path in application_sources()
            if str(path.relative_to(ROOT)).startswith(WRITTEN_WITH_ENUMS)
            for c in status_literals(ast.parse(path.read_text(encoding="utf-8")))]
    assert bare == [], "write SubmissionStatus.APPROVED, not 'approved'"


def test_periods_read_as_a_county_clerk_says_them() -> None:
    from domain.vocabulary import period_label

    assert period_label("2026Q4") == "2026年第四季度"
    assert period_label("2026-W50") == "2026年第50周（12月7日—12月11日）"
    assert period_label("2027-W01") == "2027年第1周（1月4日—1月8日）"
    assert period_label("2026") == "2026年度"
    assert period_label("2027-03") == "2027年3月"
    assert period_label("2027H2") == "2027年下半年"
    assert period_label("整改时限") == "整改时限" and period_label(None) == ""


def test_a_heading_names_the_township_the_village_and_the_period() -> None:
    from domain.vocabulary import heading

    assert heading("后进薄弱村党组织建设季度报告", "青石镇", "青石镇", "2026Q4") == "青石镇 2026年第四季度 后进薄弱村党组织建设季度报告"
    assert heading("重点联系村整顿工作周报", "青石镇", "前何庄村", "2026-W50") == (
        "青石镇前何庄村 2026年第50周（12月7日—12月11日） 重点联系村整顿工作周报")


def test_audit_actions_and_moments_read_in_chinese() -> None:
    import datetime as dt

    from core.clock import CHINA_TZ
    from domain.vocabulary import action_label, zh_datetime

    assert action_label("submission.return") == "退回修改"
    assert action_label("submission.frobnicate") == "材料变更" and action_label("x") == "其他操作"
    assert zh_datetime(dt.datetime(2026, 12, 7, 1, 5, tzinfo=dt.UTC)) == "2026年12月7日 09:05"
    assert zh_datetime(dt.datetime(2026, 12, 7, 9, 5, tzinfo=CHINA_TZ)) == "2026年12月7日 09:05"
