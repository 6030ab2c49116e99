"""零上报 (000 §四(三)): a submitted village list that leaves out a village the county knows is weak
(``tasks.village_list.known_weak_villages``: a key-contact village, one still rectifying, relapsed or failed at
acceptance) — left empty, the list is a zero report — or left empty with a hollow reason, or a required section
that says nothing (``domain.hollow``: empty, "无"/"暂无"/"见附件", its own heading; quoted in the findings). The
list is accepted; the escalation waits for the county's check before a case opens, and until then only the
county's administrators are mailed. (Reports whose sections say nothing are sent back for completion by
``hollow_report`` instead.)

Event-based: fired when a report is submitted (``Submitted``, from ``tasks.review.submit_submission``).
"""

from __future__ import annotations

from sqlmodel import Session

from domain import escalation as rules
from domain.triggers import ZERO_REPORT
from models import Escalation, OrgUnit
from tasks import escalation
from tasks.triggers.base import EventTrigger, register
from tasks.triggers.events import Submitted
from tasks.village_list import known_weak_villages


def fire(session: Session, event: Submitted) -> Escalation | None:
    """Check the report's sections and village lists; findings open an escalation for the county to check."""
    sub, spec = event.submission, event.definition.escalation.triggers.of(ZERO_REPORT)
    form = event.definition.form(sub.form_key)
    township = session.get(OrgUnit, sub.township_id)
    if not spec.checks(form.key) or township is None:
        return None
    known = known_weak_villages(session, sub.township_id, event.campaign.id or 0)
    findings = rules.zero_report_findings(form, sub.data, boilerplate=spec.boilerplate, min_chars=spec.min_chars,
                                          known_weak_villages={k.code: k.described for k in known})
    if not findings:
        return None
    return escalation.open_for_submission(
        session, event.principal, event.definition, event.campaign, township, sub, ZERO_REPORT.key, event.now,
        reason=f"“{sub.title}”（第{sub.round}轮）属零上报或内容空泛：{'；'.join(findings)}",
        evidence={"round": sub.round, "findings": findings, "known_weak_villages": [k.name for k in known]})


TRIGGER = register(EventTrigger(ZERO_REPORT, Submitted, fire))
