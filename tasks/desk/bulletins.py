"""定期通报 (004_7c184efb1f3c43f7.txt §一.3): the county's bulletin of supervision work. The tick drafts last
month's on ``DUBAN_DESK_BULLETIN_DAY`` (the office may draft any month on demand): per township the items
assigned, on time, late, open, overdue, extensions, escalation levels and cases, with the score; the best and
worst named from the ranking until the office chooses. The office edits and publishes it as a numbered document
(HTML + PDF, the layout of the 督办单), mailed to the townships' leaders."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import bindparam
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core.clock import china_date
from core.settings import get_settings
from domain import desk as rules
from domain.errors import Conflict, InvalidTransition, NotFound
from domain.vocabulary import BulletinStatus, zh_date
from models import OfficialDocument, OrgUnit, User
from models.desk import Bulletin, BulletinPublishIn
from notifications.documents import document_number, render_official
from notifications.outbox import absolute_url, enqueue_mail
from tasks.accounts import Principal
from tasks.audit import SYSTEM_ACTOR, append_event, jsonable
from tasks.desk.records import township_records
from tasks.desk.settings import desk_settings
from tasks.escalation import issuer_name, next_document_number
from tasks.locking import Audit, require_version, save_versioned

COLUMNS = ("assigned", "on_time", "late", "open", "overdue", "extensions", "levels", "cases")


def _rows(session: Session, start: dt.date, end: dt.date) -> list[dict[str, object]]:
    records = township_records(session, start, end)
    weights = desk_settings().weights
    out = []
    for town in session.exec(select(OrgUnit).where(OrgUnit.kind == "township").order_by(col(OrgUnit.code))):
        record = records.get(town.id or 0, rules.TownshipRecord())
        out.append({"township": town.code, "township_name": town.name,
                    **{k: getattr(record, k) for k in COLUMNS}, "score": rules.score(record, weights)})
    return out


def draft(session: Session, year: int, month: int, now: dt.datetime, principal: Principal | None = None) -> Bulletin:
    """The draft bulletin of ``month`` (the existing one when there is one: drafting is idempotent)."""
    start, end = rules.month_bounds(year, month)
    found = session.exec(select(Bulletin).where(Bulletin.period_start == start, Bulletin.period_end == end)).first()
    if found is not None:
        return found
    rows = _rows(session, start, end)
    ranking = [(str(r["township_name"]), float(r["score"])) for r in rows if r["assigned"]]  # type: ignore[arg-type]
    best, worst = rules.best_and_worst(sorted(ranking, key=lambda x: (-x[1], x[0])))
    bulletin = Bulletin(period_start=start, period_end=end, title=f"关于{year}年{month}月督办工作情况的通报",
                        intro=f"现将{year}年{month}月全县交办事项办理情况通报如下。", best=best, worst=worst, rows=rows,
                        created_at=now)
    try:
        with session.begin_nested():  # the savepoint first: beginning it flushes what is pending
            session.add(bulletin)
            session.flush()
    except IntegrityError:
        raise Conflict("该月的通报刚刚已生成，请刷新") from None
    append_event(session, actor_id=principal.user.id if principal else None,
                 actor=principal.user.username if principal else SYSTEM_ACTOR, action="desk.bulletin.draft",
                 subject_type="bulletin", subject_id=bulletin.id or 0, township_id=None, before=None,
                 after=jsonable({"period": [start, end], "rows": len(rows)}), now=now)
    return bulletin


_DRAFTED = select(Bulletin.id).where(Bulletin.period_start == bindparam("start"),
                                     Bulletin.period_end == bindparam("end"))  # built once: the tick asks daily


def draft_due(session: Session, now: dt.datetime) -> int:
    """The tick's step: on the bulletin day, draft last month's bulletin once."""
    today = china_date(now)
    if today.day < get_settings().desk_bulletin_day:
        return 0
    last = today.replace(day=1) - dt.timedelta(days=1)
    start, end = rules.month_bounds(last.year, last.month)
    if session.exec(_DRAFTED, params={"start": start, "end": end}).first():
        return 0
    try:
        draft(session, last.year, last.month, now)
    except Conflict:  # a tick racing this one drafted it first: once is enough
        return 0
    return 1


def _paragraphs(bulletin: Bulletin) -> list[str]:
    lines = [bulletin.intro]
    for r in bulletin.rows:
        if r["assigned"]:
            lines.append(f"{r['township_name']}：交办{r['assigned']}件，按期办结{r['on_time']}件，逾期办结{r['late']}件，"
                         f"在办{r['open']}件（其中逾期{r['overdue']}件），延期{r['extensions']}次，"
                         f"督办升级{r['levels']}次，问责{r['cases']}件，得分{r['score']}。")
    if bulletin.best:
        lines.append(f"办理及时、成效明显，予以表扬：{'、'.join(bulletin.best)}。")
    if bulletin.worst:
        lines.append(f"办理滞后，予以通报批评：{'、'.join(bulletin.worst)}。请抓紧整改，按期办结。")
    lines.append(f"评分规则：{desk_settings().weights.rule()}")
    return lines


def load_bulletin(session: Session, principal: Principal, bulletin_id: int) -> Bulletin:
    """A bulletin the caller may see: the county sees drafts too, a township the published ones (404 otherwise)."""
    bulletin = session.get(Bulletin, bulletin_id)
    if bulletin is None or (principal.townships is not None and bulletin.status != BulletinStatus.PUBLISHED):
        raise NotFound(f"没有编号为 {bulletin_id} 的通报")
    return bulletin


def publish(session: Session, principal: Principal, now: dt.datetime, bulletin_id: int,
            body: BulletinPublishIn) -> Bulletin:
    """The office's edits (intro, best, worst) and publication: numbered, rendered, mailed to the townships'
    leaders (their Party secretaries) with the PDF."""
    bulletin = load_bulletin(session, principal, bulletin_id)
    principal.require_role("admin")
    expected = require_version(bulletin, body.version, what="通报")
    if bulletin.status == BulletinStatus.PUBLISHED:
        raise InvalidTransition("该通报已印发，不能再修改")
    today = china_date(now)
    edits: dict[str, object] = {k: v for k, v in (("intro", body.intro), ("best", body.best), ("worst", body.worst))
                                if v is not None}
    if body.intro is not None:
        bulletin.intro = body.intro
    if body.best is not None:
        bulletin.best = body.best
    if body.worst is not None:
        bulletin.worst = body.worst
    number = next_document_number(session, today.year)
    doc_number = document_number(get_settings().document_prefix, today.year, number)
    text = _paragraphs(bulletin)
    html, pdf = render_official(title=bulletin.title, addressee="各乡（镇）党委", body=text, issuer=issuer_name(),
                                issued_on=today, doc_number=doc_number)
    document = OfficialDocument(kind="desk_bulletin", year=today.year, number=number, doc_number=doc_number,
                                title=bulletin.title[:300], issuer=issuer_name(), addressee="各乡（镇）党委", body=text,
                                issued_on=today, html=html, pdf=pdf, sha256=hashlib.sha256(pdf).hexdigest(),
                                township_id=_county_id(session), created_at=now)
    session.add(document)
    session.flush()
    save_versioned(session, bulletin, expected, edits | {
        "status": BulletinStatus.PUBLISHED, "document_id": document.id, "published_by": principal.user.id,
        "published_at": now}, what="通报", audit=Audit(principal, "desk.bulletin.publish", "bulletin", None, None,
                                                     {"document": doc_number} | edits, now))
    _mail(session, bulletin, document, text, now)
    return bulletin


def _county_id(session: Session) -> int:
    return session.exec(select(OrgUnit.id).where(OrgUnit.kind == "county")).first() or 0


def _mail(session: Session, bulletin: Bulletin, document: OfficialDocument, text: list[str], now: dt.datetime) -> None:
    leaders = select(User).where(User.active == True, User.role == "reviewer", User.level == "township")  # noqa: E712
    for user in session.exec(leaders):
        message = enqueue_mail(session, key=f"desk:bulletin:{bulletin.id}:{user.id}", to=user, template="desk_notice",
                               context={"subject": f"【通报】{document.doc_number} {bulletin.title}", "title": bulletin.title,
                                        "lines": text + [f"印发日期：{zh_date(document.issued_on)}"],
                                        "link": absolute_url("/desk")}, now=now)
        if message is not None:
            message.document_id = document.id
