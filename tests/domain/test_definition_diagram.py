"""The diagram of a definition (``domain.definition_diagram``): well-formed SVG that names every stage, gate (with
its review levels and checks), recurring report and step of the ladder, for every shipped definition."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from domain.definition_diagram import definition_diagram, recurrence
from domain.definitions import Definition
from tasks.registry import shipped

SVG = "{http://www.w3.org/2000/svg}"


def _texts(svg: str) -> str:
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    assert root.tag == f"{SVG}svg"
    return "".join(t.text or "" for t in root.iter(f"{SVG}text"))


@pytest.mark.parametrize("key", sorted(shipped()))
def test_the_diagram_names_every_part_of_the_definition(key: str) -> None:
    d: Definition = shipped()[key]
    text = _texts(definition_diagram(d))
    flat = text.replace(" ", "")
    gates = {g.key: g for g in d.gates}
    names = [s.name for s in d.stages] + [lv.name for lv in d.escalation.ladder]
    for stage in d.stages:
        if stage.gate:
            gate = gates[stage.gate]
            names += [gate.name, *(lv.name for lv in gate.review_chain), *(c.name for c in gate.checks)]
    names += [o.title for o in d.obligations if o.recurring]
    for name in names:
        assert name.replace(" ", "") in flat, name


def test_names_are_escaped_and_the_rhythm_of_recurring_reports_is_written_out() -> None:
    d = shipped()["weak_village_rectification"]
    tricky = d.model_copy(update={"name": "<整顿>&“试点”"})
    svg = definition_diagram(tricky)
    assert "&lt;整顿&gt;&amp;" in svg and "<整顿>" not in svg
    ET.fromstring(svg)  # noqa: S314 - our own output
    rhythms = {o.key: recurrence(o) for o in d.obligations if o.recurring}
    assert rhythms == {"quarterly_report": "每季度末月20日前", "weekly_report": "每周五"}
