"""A campaign definition drawn as SVG, from the definition itself: the stages in order, under each the gate that
closes it with its review chain and checks, the recurring reports, and the escalation ladder's steps. Pure: the
definition page embeds the text (no script, no external assets)."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from domain.definitions import (
    Definition,
    Gate,
    MonthlyRule,
    Obligation,
    QuarterLastMonthRule,
    WeeklyRule,
)

COLUMN = 200  # a box's width
GAP = 34  # between boxes, room for an arrow
LINE = 18  # a text line's height
CHARS = 13  # characters per line inside a box (Chinese characters at 13 px)
WEEKDAYS = "一二三四五六日"


@dataclass
class _Box:
    lines: list[tuple[str, str]]  # (text, style class)
    fill: str

    @property
    def height(self) -> int:
        return LINE * len(self.lines) + 12


def _wrap(text: str, prefix: str = "", width: int = CHARS) -> list[str]:
    """``text`` in lines of at most ``width`` characters, the first one after ``prefix``."""
    text = prefix + text
    return [text[i:i + width] for i in range(0, len(text), width)] or [""]


def _gate_box(gate: Gate) -> _Box:
    lines = [(t, "b") for t in _wrap(gate.name, "关口：")]
    lines.append(("审核链", "h"))
    for i, level in enumerate(gate.review_chain, 1):
        lines += [(t, "") for t in _wrap(level.name, f"{i}. ")]
    if gate.checks:
        lines.append(("审核检查", "h"))
        for check in gate.checks:
            lines += [(t, "") for t in _wrap(check.name, "· ")]
    return _Box(lines, "#fff7e6")


def recurrence(ob: Obligation) -> str:
    """A recurring report's rhythm in words: 每季度末月20日前, 每月底, 每周五 …"""
    due = ob.due
    if isinstance(due, QuarterLastMonthRule):
        return f"每季度末月{due.day}日前"
    if isinstance(due, MonthlyRule):
        months = f"（{'、'.join(f'{m}月' for m in due.months)}）" if due.months else ""
        return ("每月底" if due.day == "last" else f"每月{due.day}日前") + months
    if isinstance(due, WeeklyRule):
        return f"每周{WEEKDAYS[due.weekday - 1]}"
    return ""


def _draw_box(out: list[str], box: _Box, x: int, y: int) -> None:
    out.append(f'<rect x="{x}" y="{y}" width="{COLUMN}" height="{box.height}" rx="6" fill="{box.fill}" stroke="#8c8c8c"/>')
    for i, (text, style) in enumerate(box.lines):
        cls = f' class="{style}"' if style else ""
        out.append(f'<text x="{x + 8}" y="{y + 20 + i * LINE}"{cls}>{escape(text)}</text>')


def _arrow(out: list[str], x: int, y: int) -> None:
    out.append(f'<line x1="{x + 4}" y1="{y}" x2="{x + GAP - 6}" y2="{y}" stroke="#595959" marker-end="url(#arrow)"/>')


def _row(out: list[str], boxes: list[_Box], y: int, arrows: bool) -> int:
    """Boxes left to right from ``y`` (arrows between them when ``arrows``); returns the row's height."""
    for i, box in enumerate(boxes):
        x = 10 + i * (COLUMN + GAP)
        _draw_box(out, box, x, y)
        if arrows and i + 1 < len(boxes):
            _arrow(out, x + COLUMN, y + 20)
    return max((b.height for b in boxes), default=0)


def _heading(out: list[str], text: str, y: int) -> int:
    out.append(f'<text x="10" y="{y + 16}" class="t">{escape(text)}</text>')
    return y + 26


def _stages(out: list[str], definition: Definition, y: int) -> int:
    """The stages in order, each with the gate that closes it drawn below it."""
    gates = {g.key: g for g in definition.gates}
    stage_boxes = [_Box([(t, "b") for t in _wrap(s.name, f"{i}. ")], "#e6f0ff")
                   for i, s in enumerate(definition.stages, 1)]
    height = _row(out, stage_boxes, y, arrows=True)
    below = 0
    for i, stage in enumerate(definition.stages):
        if stage.gate and stage.gate in gates:
            x = 10 + i * (COLUMN + GAP)
            out.append(f'<line x1="{x + COLUMN // 2}" y1="{y + stage_boxes[i].height}" x2="{x + COLUMN // 2}" '
                       f'y2="{y + height + 16}" stroke="#8c8c8c" stroke-dasharray="3,3"/>')
            box = _gate_box(gates[stage.gate])
            _draw_box(out, box, x, y + height + 16)
            below = max(below, box.height + 16)
    return y + height + below + 16


def definition_diagram(definition: Definition) -> str:
    """The SVG of ``definition``: well-formed XML naming every stage, gate (its review levels and checks),
    recurring report and ladder step."""
    body: list[str] = []
    y = _heading(body, f"{definition.name}（第{definition.version}版）阶段与审核关口", 4)
    y = _stages(body, definition, y)
    recurring = [o for o in definition.obligations if o.recurring]
    if recurring:
        y = _heading(body, "定期报告", y)
        names = {s.key: s.name for s in definition.stages}
        boxes = [_Box([(t, "b") for t in _wrap(o.title)] + [(t, "") for t in _wrap(recurrence(o))]
                      + [(t, "s") for t in _wrap("、".join(names.get(k, k) for k in o.during), "阶段：")], "#eef9ee")
                 for o in recurring]
        y += _row(body, boxes, y, arrows=False) + 16
    y = _heading(body, "逐级督办（逾期未报）", y)
    steps = [_Box([(t, "b") for t in _wrap(level.name, f"{i}. ")] + [(f"上一级后 {level.after_workdays} 个工作日", "s")],
                  "#fdecec") for i, level in enumerate(definition.escalation.ladder, 1)]
    y += _row(body, steps, y, arrows=True) + 10
    columns = max(len(definition.stages), len(recurring), len(definition.escalation.ladder), 1)
    width = 20 + columns * COLUMN + (columns - 1) * GAP
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {y}" width="{width}" height="{y}" '
            f'role="img" aria-label="{escape(definition.name)}流程图" class="definition-diagram">'
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#595959"/></marker></defs>'
            '<style>text{font-size:13px;font-family:sans-serif;fill:#262626}.b{font-weight:bold}'
            '.h{fill:#8c5a00;font-size:12px}.s{fill:#595959;font-size:12px}.t{font-size:15px;font-weight:bold}</style>')
    return head + "".join(body) + "</svg>"
