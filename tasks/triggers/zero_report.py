"""零上报 (000 §四(三)): a submitted village list left empty while the township has known weak villages (or
with a hollow reason), or with a required section that says nothing (``domain.hollow``: empty, "无"/"暂无"/
"见附件", its own heading; quoted in the findings). The list is accepted; the escalation waits for the county's
check before a case opens, and until then only the county's administrators are mailed. (Reports whose
sections say nothing are sent back for completion by ``hollow_report`` instead.)

Event-based: fired when a report is submitted (``Submitted``, from ``tasks.review.submit_submission``).
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from domain import escalation as rules
from domain.triggers import ZERO_REPORT
from models import Escalation, OrgUnit, VillageRectification
from tasks import escalation
from tasks.triggers.base import EventTrigger, register
from tasks.triggers.events import Submitted


def known_weak_villages(session: Session, township_id: int, campaign_id: int) -> list[str]:
    """Villages the county already knows are weak: key-contact villages (重点联系村, classes B/C) and
    villages still in rectification under another campaign."""
    villages = {u.id: u for u in session.exec(select(OrgUnit).where(OrgUnit.kind == "village", OrgUnit.parent_id == township_id))}
    names = {u.name for u in villages.values() if u.key_contact_class}
    if villages:
        for vid in session.exec(select(VillageRectification.village_id).where(
                col(VillageRectification.village_id).in_(list(villages)), VillageRectification.campaign_id != campaign_id,
                col(VillageRectification.status) != "closed")):
            names.add(villages[vid].name)
    return sorted(names)


def fire(session: Session, event: Submitted) -> Escalation | None:
    """Check the report's sections and village lists; findings open an escalation for the county to check."""
    sub, spec = event.submission, event.definition.escalation.triggers.of(ZERO_REPORT)
    form = event.definition.form(sub.form_key)
    township = session.get(OrgUnit, sub.township_id)
    if not spec.checks(form.key) or township is None:
        return None
    known = known_weak_villages(session, sub.township_id, event.campaign.id or 0)
    findings = rules.zero_report_findings(form, sub.data, boilerplate=spec.boilerplate, min_chars=spec.min_chars,
                                          known_weak_villages=known)
    if not findings:
        return None
    return escalation.open_for_submission(
        session, event.principal, event.definition, event.campaign, township, sub, ZERO_REPORT.key, event.now,
        reason=f"“{sub.title}”（第{sub.round}轮）属零上报或内容空泛：{'；'.join(findings)}",
        evidence={"round": sub.round, "findings": findings, "known_weak_villages": known})


TRIGGER = register(EventTrigger(ZERO_REPORT, Submitted, fire))
