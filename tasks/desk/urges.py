"""The 三色督办单 the office issues by hand (催办): 蓝 near the deadline, 黄 behind schedule or poor quality, 红
overdue. Numbered in the year's series of official documents, kept as a document (HTML + PDF), mailed to the
township with the PDF, and audited — like the documents the ladder issues."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlmodel import Session, select

from core.clock import china_date
from core.settings import get_settings
from domain.errors import InvalidTransition
from domain.vocabulary import ObligationStatus, UrgeColour, zh_date
from models import Obligation, OfficialDocument, OrgUnit, User
from models.desk import AssignedItem, DeskUrge, ItemRecipient, UrgeIn
from notifications.documents import document_number, render_official
from notifications.outbox import absolute_url, enqueue_mail
from tasks.accounts import Principal
from tasks.desk.items import desk_event, load_recipient
from tasks.desk.settings import item_number
from tasks.escalation import issuer_name, next_document_number

COLOUR_NAMES = {UrgeColour.BLUE: "蓝色", UrgeColour.YELLOW: "黄色", UrgeColour.RED: "红色"}


def _body(item: AssignedItem, closing: Obligation, colour: UrgeColour, note: str, today: dt.date) -> list[str]:
    late = (today - closing.due_on).days
    state = (f"已逾期{late}天" if late > 0 else f"距办理期限还有{-late}天" if late < 0 else "今日到期")
    return [
        f"督办事项：{item.title}（{item_number(item.year, item.seq)}）。",
        f"办理期限：{zh_date(closing.due_on)}，{state}。",
        f"督办事由：{note}",
        f"督办等级：{colour.label}。请乡（镇）党委高度重视，抓紧办理，并将办理情况及时报县委组织部。",
    ]


def issue_urge(session: Session, principal: Principal, now: dt.datetime, recipient_id: int, body: UrgeIn) -> DeskUrge:
    """Issue a 三色督办单 to one recipient of an item (administrators); an item already closed is not urged."""
    recipient: ItemRecipient = load_recipient(session, principal, recipient_id)
    principal.require_role("admin")
    item = session.get(AssignedItem, recipient.item_id)
    closing = session.get(Obligation, recipient.obligation_id)
    township = session.get(OrgUnit, recipient.township_id)
    assert item is not None and closing is not None and township is not None
    if closing.status in (ObligationStatus.MET, ObligationStatus.LATE):
        raise InvalidTransition("该事项已办结销号，无需督办")
    today = china_date(now)
    colour = UrgeColour(body.colour)
    number = next_document_number(session, today.year)
    doc_number = document_number(get_settings().document_prefix, today.year, number)
    title = f"{COLOUR_NAMES[colour]}督办单（{item.title}）"
    text = _body(item, closing, colour, body.note, today)
    html, pdf = render_official(title=title, addressee=f"{township.name}党委", body=text, issuer=issuer_name(),
                                issued_on=today, doc_number=doc_number)
    document = OfficialDocument(kind=f"desk_urge_{colour.value}", year=today.year, number=number, doc_number=doc_number,
                                title=title[:300], issuer=issuer_name(), addressee=f"{township.name}党委", body=text,
                                issued_on=today, html=html, pdf=pdf, sha256=hashlib.sha256(pdf).hexdigest(),
                                township_id=township.id or 0, created_at=now)
    session.add(document)
    session.flush()
    urge = DeskUrge(recipient_id=recipient.id or 0, township_id=township.id or 0, colour=colour, note=body.note,
                    document_id=document.id or 0, issued_by=principal.user.id or 0, issued_at=now)
    session.add(urge)
    session.flush()
    desk_event(session, principal, "desk.urge", "desk_urge", urge.id or 0, township.id, None,
               {"item_id": item.id, "colour": colour, "note": body.note, "document": doc_number}, now)
    for user in session.exec(select(User).where(User.active == True, User.org_unit_id == township.id)):  # noqa: E712
        message = enqueue_mail(session, key=f"desk:urge:{urge.id}:{user.id}", to=user, template="desk_notice", context={
            "subject": f"【{COLOUR_NAMES[colour]}督办单】{doc_number} {item.title}", "title": item.title, "lines": text,
            "link": absolute_url("/desk")}, now=now)
        if message is not None:
            message.document_id = document.id
    return urge
