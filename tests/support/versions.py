"""Version 2 of a shipped definition, as a county would write it after a new notice: the first deadline moved and
one more report (tests of issue 19)."""

from __future__ import annotations

from pathlib import Path

DEFINITION = "cadres_in_villages"
EXTRA_REPORT = """
  - key: midyear_report
    title: 驻村工作半年情况报告
    kind: deliverable
    form: annual_summary
    due: {rule: fixed, month: 7, day: 10}
    policy: previous_workday
    stage: stationed
    subject: {kind: township}
    submit_to: 县委基层办
"""


def shipped_source() -> str:
    return (Path(__file__).resolve().parents[2] / "definitions" / f"{DEFINITION}.yaml").read_text(encoding="utf-8")


def v2_source() -> str:
    """The cadres are due on site by 15 January instead of 8 (the deploy stage closes then), and a half-year report
    is owed by 10 July."""
    text = shipped_source()
    deploy = "    closes: {month: 1, day: 8}\n"
    stationed = "    opens: {month: 1, day: 9}\n"
    due = "    due: {rule: fixed, month: 1, day: 8}\n"
    for old in (deploy, stationed, due):
        assert text.count(old) == 1, old
    text = text.replace(deploy, "    closes: {month: 1, day: 15}\n").replace(stationed, "    opens: {month: 1, day: 16}\n")
    text = text.replace(due, "    due: {rule: fixed, month: 1, day: 15}\n")
    return text.replace("\nobligations:\n", "\nobligations:\n" + EXTRA_REPORT, 1)
