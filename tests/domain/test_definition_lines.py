"""The line of a definition's YAML a validation error points at (``domain.definition_lines``)."""

from __future__ import annotations

from domain.definition_lines import field_line, field_path

SOURCE = """key: x
name: 示例
stages:
  - key: a
    name: 第一阶段
    opens: {month: 3, day: 1}
    closes:
      month: 13
      day: 1
  - key: b
    name: 第二阶段
"""


def test_a_field_path_is_split_into_keys_and_indexes() -> None:
    assert field_path("stages[1].closes.month") == ["stages", 1, "closes", "month"]
    assert field_path("escalation.ladder[0]") == ["escalation", "ladder", 0]


def test_each_field_points_at_the_line_it_is_written_on() -> None:
    assert field_line(SOURCE, "name") == 2
    assert field_line(SOURCE, "stages[0].closes.month") == 8
    assert field_line(SOURCE, "stages[0].opens.month") == 6  # a flow mapping: its line
    assert field_line(SOURCE, "stages[1]") == 10
    assert field_line(SOURCE, "stages[1].gate") == 10  # missing: the item it belongs to
    assert field_line(SOURCE, "targets[0]") is None  # nowhere in the text
    assert field_line(SOURCE, "(top level)") is None
    assert field_line("key: [unclosed\n", "key") is None
