"""The demo county's desk (``make run``, ``duban seed-demo``): one item assigned by the office to three townships,
signed for by 青石镇, so that the desk page shows recipients, lights and a sign-for deadline at once."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, select

from core.clock import china_date
from domain.vocabulary import ItemFeedback, ItemSource
from models import OrgUnit, User
from models.desk import AssignedItem, ItemIn, ItemRecipient
from tasks.accounts import principal_for
from tasks.calendar import load_work_calendar
from tasks.desk.items import acknowledge, assign

DEMO_TITLE = "全面清理规范村级组织挂牌"


def seed_demo_desk(session: Session, now: dt.datetime) -> int:
    """Assign the demo item once (nothing when it exists or the demo accounts are missing); the items written."""
    admin = session.exec(select(User).where(User.username == "admin")).first()
    liaison = session.exec(select(User).where(User.username == "qx01-liaison")).first()
    towns = [t for t in session.exec(select(OrgUnit.code).where(OrgUnit.kind == "township")) if t in ("QX01", "QX02", "QX03")]
    if admin is None or liaison is None or len(towns) < 3 or session.exec(
            select(AssignedItem.id).where(AssignedItem.title == DEMO_TITLE)).first() is not None:
        return 0
    due = load_work_calendar(session).add_workdays(china_date(now), 10)
    item = assign(session, principal_for(session, admin), now, ItemIn(
        title=DEMO_TITLE, source=ItemSource.INSTRUCTION, document_number="清组〔演示〕1号",
        requirement="按照县委主要领导批示，全面清理村级组织牌子，做到“应挂尽挂、不挂滥挂”，办结后报送办结报告。",
        townships=["QX01", "QX02", "QX03"], due_on=due, feedback=ItemFeedback.ONCE))
    first = session.exec(select(ItemRecipient).join(OrgUnit, ItemRecipient.township_id == OrgUnit.id)  # type: ignore[arg-type]
                         .where(ItemRecipient.item_id == item.id, OrgUnit.code == "QX01")).one()
    acknowledge(session, principal_for(session, liaison), now, first.id or 0)
    return 1
