"""内容空泛 (000 §四(二): the quarterly report's four parts; §四(三): 切忌敷衍塞责或应付了是): a report submitted with
a required section that says nothing — empty, "无", "暂无", "见附件", its own heading (the one rule of
``domain.hollow``) — is sent back to its township for completion, each hollow section named and quoted.

A reminder ladder, not 问责: the first hollow round of a report opens at the trigger's level (催办 in the shipped
definitions), each further hollow round of the same report one level higher. A level that opens a case waits
for the county's check like 零上报: only the county's administrators are mailed, and 问责 follows their
confirmation only. The report keeps its deadline (with the time to revise any return gets); once the deadline
passes, the overdue ladder takes over. A complete resubmission resolves the steps.

Event-based: fired when a report is submitted (``Submitted``, from ``tasks.review.submit_submission``).
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, select

from domain import escalation as rules
from domain.triggers import HOLLOW_REPORT
from models import Escalation, OrgUnit
from tasks import escalation
from tasks.triggers.base import EventTrigger, register
from tasks.triggers.events import Submitted


def fire(session: Session, event: Submitted) -> Escalation | None:
    """Send a report with hollow sections back for completion and record the step; a complete report resolves
    the steps of its earlier hollow rounds."""
    sub, definition = event.submission, event.definition
    spec = definition.escalation.triggers.of(HOLLOW_REPORT)
    if not spec.checks(sub.form_key):
        return None
    findings = rules.hollow_sections(definition.form(sub.form_key), sub.data, boilerplate=spec.boilerplate,
                                     min_chars=spec.min_chars)
    if not findings:
        escalation.resolve(session, event.now, trigger=HOLLOW_REPORT.key, what="补充完善后重新报送", submission_id=sub.id)
        return None
    township = session.get(OrgUnit, sub.township_id)
    if township is None:
        return None
    from tasks import review  # tasks.review publishes the event this runs on: imported when it runs

    complete_by = review.send_back(session, event.now, sub, "以下内容空泛，请补充完善后重新报送：" + "；".join(findings))
    earlier = session.exec(select(func.count()).select_from(Escalation).where(
        Escalation.submission_id == sub.id, Escalation.trigger == HOLLOW_REPORT.key)).one()
    level = min(definition.escalation.level_index(HOLLOW_REPORT.key) + int(earlier), len(definition.escalation.ladder))
    esc = escalation.open_for_submission(
        session, event.principal, definition, event.campaign, township, sub, HOLLOW_REPORT.key, event.now,
        reason=f"“{sub.title}”（第{sub.round}轮）内容空泛，已退回补充完善：{'；'.join(findings)}",
        evidence={"round": sub.round, "findings": findings, "hollow_rounds": int(earlier) + 1}, level=level,
        new_due_on=complete_by)
    escalation.mark_escalated(session, [Escalation.submission_id == sub.id, Escalation.trigger == HOLLOW_REPORT.key],
                              level)
    return esc


TRIGGER = register(EventTrigger(HOLLOW_REPORT, Submitted, fire))
