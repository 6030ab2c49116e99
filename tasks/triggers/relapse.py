"""反复回潮 (004 §三.3): a consolidating or closed village that relapses opens an escalation; a case waits for
the county's check.

Event-based: fired when the county records the relapse (``Relapsed``, from ``tasks.rectification.transition``).
"""

from __future__ import annotations

from sqlmodel import Session

from domain.triggers import RELAPSE
from models import Escalation, OrgUnit
from tasks import escalation
from tasks.calendar import load_work_calendar
from tasks.triggers.base import EventTrigger, register
from tasks.triggers.events import Relapsed


def fire(session: Session, event: Relapsed) -> Escalation | None:
    """The relapse, with the county's finding, opens an escalation at the trigger's level."""
    rect, comment = event.rectification, event.comment.strip()
    township = session.get(OrgUnit, event.campaign.township_id)
    village = session.get(OrgUnit, rect.village_id)
    if township is None or village is None:
        return None
    step = escalation.Step(
        campaign=event.campaign, township=township, trigger=RELAPSE.key,
        level=event.definition.escalation.level_index(RELAPSE.key), key=RELAPSE.step_key(rect.id or 0, rect.relapses),
        item_title=f"{village.name}整顿成果巩固", subject=village, rectification_id=rect.id,
        reason=f"{village.name}经整顿后反复回潮（第{rect.relapses}次）：{comment}",
        evidence={"relapses": rect.relapses, "findings": [comment]})
    return escalation.record_step(session, event.definition, step, event.now, calendar=load_work_calendar(session),
                                  users=escalation.active_users(session), actor=event.principal)


TRIGGER = register(EventTrigger(RELAPSE, Relapsed, fire))
