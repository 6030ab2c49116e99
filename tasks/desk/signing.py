"""签收 of campaign deadlines: an obligation whose definition rule says ``acknowledge: true`` is signed for by its
township when it opens, within ``DUBAN_DESK_ACK_WORKDAYS`` working days, on the desk's sign-for ladder — the same
sign-for obligations (in the ``supervision_desk_signing`` container) that assigned items use. The tick writes them
(``sign_for_opened``); the township signs through :func:`acknowledge_obligation`, which serves an item's too."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session, col, select

from core.clock import china_date
from domain.errors import Conflict, NotFound, PermissionDenied
from domain.review import may_submit
from domain.vocabulary import CampaignStatus, ObligationStatus
from models import Campaign, Obligation, OrgUnit
from models.desk import ItemRecipient
from tasks import tick
from tasks.accounts import Principal
from tasks.calendar import load_work_calendar
from tasks.desk.items import acknowledge, container, desk_event, mark_signed
from tasks.desk.settings import ACK_RULE, SIGNING, desk_settings
from tasks.registry import get_definitions
from tasks.scope import scoped, visible_campaign

OPENED = (ObligationStatus.OPEN, ObligationStatus.SUBMITTED, ObligationStatus.MISSED)


def _asking() -> dict[str, set[str]]:
    """The rules that ask to be signed for, by definition (the desk's own containers excepted)."""
    out: dict[str, set[str]] = {}
    for key, definition in get_definitions().items():
        rules = {o.key for o in definition.obligations if o.acknowledge}
        if rules and not definition.desk:
            out[key] = rules
    return out


def sign_for_opened(session: Session, now: dt.datetime) -> int:
    """Write (once) and open the sign-for deadline of every opened obligation whose rule asks for one."""
    asking = _asking()
    if not asking:
        return 0
    rows = session.exec(select(Obligation, Campaign).join(Campaign, col(Obligation.campaign_id) == Campaign.id).where(
        col(Campaign.definition_key).in_(asking), col(Campaign.status) == CampaignStatus.ACTIVE,
        col(Obligation.status).in_(OPENED))).all()
    wanted = [(o, c) for o, c in rows if o.rule_key in asking[c.definition_key]]
    if not wanted:
        return 0
    keys = {f"obligation:{o.id}:ack" for o, _ in wanted}
    written = set(session.exec(select(Obligation.key).where(col(Obligation.key).in_(keys))))
    today = china_date(now)
    due = load_work_calendar(session).add_workdays(today, desk_settings().ack_workdays)
    containers: set[int] = set()
    created = 0
    for ob, campaign in wanted:
        key = f"obligation:{ob.id}:ack"
        if key in written:
            continue
        created += 1
        signing = container(session, SIGNING, campaign.township_id, campaign.year, now)
        session.add(Obligation(campaign_id=signing.id or 0, key=key, rule_key=ACK_RULE, kind="checkpoint",
                               title=f"签收：{ob.title}"[:200], subject_id=ob.subject_id, period=ob.period,
                               opens_on=today, nominal_due_on=due, due_on=due, policy="keep",
                               status=ObligationStatus.SCHEDULED))
        containers.add(signing.id or 0)
    session.flush()
    for campaign_id in containers:
        tick.open_obligations(session, now, campaign_id)
    return created


def waiting(session: Session, principal: Principal, today: dt.date) -> list[dict[str, Any]]:
    """Sign-for deadlines not yet signed (in scope), soonest first: what the office is flagged and the township owes."""
    stmt = scoped(select(Obligation, Campaign, OrgUnit).join(Campaign, col(Obligation.campaign_id) == Campaign.id)
                  .join(OrgUnit, col(Campaign.township_id) == OrgUnit.id)
                  .where(Campaign.definition_key == SIGNING, col(Obligation.status).in_(
                      [ObligationStatus.SCHEDULED, ObligationStatus.OPEN, ObligationStatus.MISSED])),
                  principal, Campaign.township_id)
    return [{"obligation_id": o.id, "key": o.key, "item": o.key.startswith("item:"), "title": o.title, "period": o.period, "township": u.code, "township_name": u.name,
             "due_on": o.due_on, "overdue": o.due_on < today, "escalation_level": o.escalation_level}
            for o, _, u in session.exec(stmt.order_by(col(Obligation.due_on), col(Obligation.id)))]


def load_signing(session: Session, principal: Principal, obligation_id: int) -> tuple[Obligation, Campaign]:
    """A sign-for deadline the caller may see, with its container (404 otherwise, alike for another township's)."""
    ack = session.get(Obligation, obligation_id)
    campaign = visible_campaign(session, principal, ack, f"没有编号为 {obligation_id} 的签收事项")
    if ack is None or campaign.definition_key != SIGNING:
        raise NotFound(f"没有编号为 {obligation_id} 的签收事项")
    return ack, campaign


def acknowledge_obligation(session: Session, principal: Principal, now: dt.datetime, obligation_id: int) -> Obligation:
    """签收 by the sign-for deadline's id: an assigned item's (its recipient records who and when) or a campaign
    deadline's."""
    ack, campaign = load_signing(session, principal, obligation_id)
    recipient = session.exec(select(ItemRecipient).where(ItemRecipient.ack_obligation_id == ack.id)).first()
    if recipient is not None:
        acknowledge(session, principal, now, recipient.id or 0)
        return ack
    if not may_submit(principal.actor, campaign.township_id):
        raise PermissionDenied("只有本乡镇的填报人员可以签收")
    if ack.status in (ObligationStatus.MET, ObligationStatus.LATE):
        raise Conflict(f"已于{ack.met_on.isoformat() if ack.met_on else ''}签收，无需重复签收")
    mark_signed(session, ack, now)
    desk_event(session, principal, "desk.acknowledge", "obligation", ack.id or 0, campaign.township_id, None,
               {"key": ack.key, "acknowledged_at": now, "on_time": ack.status == ObligationStatus.MET}, now)
    return ack
