"""The one hollow-text rule (内容空泛, 000 §四(三) 切忌敷衍塞责): what says nothing, and findings that quote what
was written."""

from __future__ import annotations

import pytest

from domain.hollow import DEFAULT_BOILERPLATE, hollow_finding, is_hollow, quote


@pytest.mark.parametrize(("text", "hollow"), [
    ("无", True), ("暂无。", True), ("无 无 无", True), ("见附件", True), ("——", True), ("  ", True),
    ("同上。", True), ("好", True), ("新发展党员3名", False), ("基本情况", False),
    ("班子调整到位，新发展党员1名。", False), ("无职党员设岗定责12人", False),
])
def test_hollow_sections(text: str, hollow: bool) -> None:
    assert is_hollow(text, DEFAULT_BOILERPLATE, 4) is hollow


def test_a_finding_says_empty_only_when_nothing_was_written() -> None:
    assert hollow_finding("取得的成效", "") == "“取得的成效”为空"
    assert hollow_finding("取得的成效", "  \n ") == "“取得的成效”为空"
    assert hollow_finding("取得的成效", None) == "“取得的成效”为空"
    # Text that is only punctuation was written: the finding quotes it instead of calling it empty.
    assert hollow_finding("取得的成效", "——") == "“取得的成效”只填写了“——”，没有实际内容"
    assert hollow_finding("取得的成效", "……。") == "“取得的成效”只填写了“……。”，没有实际内容"
    assert hollow_finding("存在的主要问题", "暂无。") == "“存在的主要问题”只填写了“暂无。”，没有实际内容"


def test_a_heading_repeated_as_its_content_is_hollow() -> None:
    assert hollow_finding("下步打算", "下步打算：") == "“下步打算”只填写了“下步打算：”，没有实际内容"
    assert hollow_finding("基本情况", "基本情况：无") == "“基本情况”只填写了“基本情况：无”，没有实际内容"
    assert hollow_finding("基本情况", "全镇3个后进村整顿有序推进，班子调整到位。") is None


def test_a_long_hollow_text_is_quoted_cut_short() -> None:
    text = "无" * 30 + "，" + "暂无" * 20
    assert quote(text) == text[:40] + "……"
    assert hollow_finding("取得的成效", text) == f"“取得的成效”只填写了“{text[:40]}……”，没有实际内容"
    assert quote(" 见\n附件 ") == "见 附件"


def test_a_definition_may_name_its_own_stock_phrases_and_length() -> None:
    assert hollow_finding("下步打算", "按计划推进", boilerplate=["按计划推进"], min_chars=4) is not None
    assert hollow_finding("下步打算", "按计划推进") is None
    assert hollow_finding("下步打算", "开会", min_chars=2) is None
