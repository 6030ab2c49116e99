"""The escalation engine on a virtual clock: the overdue ladder to an accountability case, late work
stopping it, 零上报, unverified reports, slow rectification, relapse, official documents and cases."""

from __future__ import annotations

import datetime as dt
import io
from email.message import EmailMessage
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.clock import CHINA_TZ
from core.db import session_scope
from flows.launch import launch_campaign
from models import (
    AccountabilityCase,
    AuditEvent,
    Campaign,
    Escalation,
    Obligation,
    OfficialDocument,
    OrgUnit,
    OutboxMessage,
    Submission,
    VillageRectification,
)
from notifications.delivery import deliver_pending
from notifications.mailer import MemoryMailer
from tasks import review
from tasks.audit import verify_chain
from tests.support.clock import at, days
from tests.support.tick import tick, tick_days
from tests.support.world import as_user

LAUNCH = at(dt.date(2025, 1, 2))
API = "/api/v1"
# A real quarterly report of a township (四个部分, 000 §四(二)).
REPORT = {
    "basic_situation": "全镇共有后进薄弱村党组织3个，本季度均已落实县级领导联系和挂钩帮扶单位。",
    "results": "调整充实村“两委”班子成员2名，新发展党员1名，石桥村集体经济增收2.6万元。",
    "main_problems": "个别村党员老龄化严重，年轻党员外出务工多，组织生活难以正常开展。",
    "next_steps": "下季度集中开展党员冬训，每村培养入党积极分子不少于2名。",
}


def q4_report(engine: Engine) -> Obligation:
    with Session(engine) as s:
        return s.exec(select(Obligation).where(Obligation.rule_key == "quarterly_report", Obligation.period == "2025Q4",
                                               Obligation.campaign_id == _campaign_id(s, "QX01"))).one()


def _campaign_id(s: Session, code: str) -> int:
    town = s.exec(select(OrgUnit).where(OrgUnit.code == code)).one()
    return s.exec(select(Campaign.id).where(Campaign.township_id == town.id)).one() or 0


def steps(engine: Engine, obligation_id: int) -> list[tuple[int, str, dt.date, str]]:
    with Session(engine) as s:
        return [(e.level, e.level_key, e.created_at.astimezone(CHINA_TZ).date(), e.status) for e in s.exec(
            select(Escalation).where(Escalation.obligation_id == obligation_id, Escalation.trigger == "overdue")
            .order_by(col(Escalation.level)))]


def submit(engine: Engine, username: str, obligation_id: int, data: dict[str, Any], now: dt.datetime) -> Submission:
    with session_scope(engine) as s:
        who = as_user(s, username)
        draft = s.exec(select(Submission).where(Submission.obligation_id == obligation_id)).first()
        if draft is None:
            draft = review.create_submission(s, who, now, obligation_id=obligation_id, subject=None, data={})
        if data.get("committee_minutes") == "ATTACH":  # the scanned minutes of the committee meeting
            minutes = review.add_attachment(s, who, now, draft.id or 0, filename="党委会议纪要.pdf",
                                            content_type="application/pdf", content=b"%PDF-1.4\n%%EOF\n")
            data = data | {"committee_minutes": [minutes.id]}
        draft = review.update_draft(s, who, now, draft.id or 0, data, draft.version)
        return review.submit_submission(s, who, now, draft.id or 0, draft.version)


def _no_key_contact_villages(engine: Engine) -> None:
    """Only the township's own deadlines: no weekly reports of key-contact villages (B/C) to miss."""
    with session_scope(engine) as s:
        for village in s.exec(select(OrgUnit).where(OrgUnit.kind == "village")):
            village.key_contact_class = None
            s.add(village)


@pytest.fixture
async def campaign(demo_county: Engine) -> Engine:
    _no_key_contact_villages(demo_county)
    await launch_campaign("weak_village_rectification", "QX01", 2025, now=LAUNCH)
    return demo_county


# ---- the overdue ladder ---------------------------------------------------------------------------


async def test_a_township_that_never_submits_walks_up_every_level_to_one_case(campaign: Engine) -> None:
    ob = q4_report(campaign)  # due Fri 19 Dec 2025
    # Twice a day: the second tick of a day changes nothing.
    tick_days(campaign, days(dt.date(2025, 12, 1), dt.date(2026, 2, 6)), hours=(9, 16))
    # 催办 +1 working day, 督办 +3, 约谈 +5 (across New Year to the make-up Sunday 4 Jan), 通报 +5,
    # 问责 +10 — each on its working day, once.
    assert steps(campaign, ob.id or 0) == [
        (1, "urge", dt.date(2025, 12, 22), "escalated"),
        (2, "supervise", dt.date(2025, 12, 25), "escalated"),
        (3, "interview", dt.date(2026, 1, 4), "escalated"),
        (4, "notice", dt.date(2026, 1, 9), "escalated"),
        (5, "accountability", dt.date(2026, 1, 23), "open"),
    ]
    with Session(campaign) as s:
        [case] = s.exec(select(AccountabilityCase).where(AccountabilityCase.obligation_id == ob.id)).all()
        top = s.exec(select(Escalation).where(Escalation.key == f"overdue:{ob.id}:5")).one()
        assert (case.escalation_id, case.status, case.trigger, case.obligation_id) == (top.id, "open", "overdue", ob.id)
        town = s.exec(select(OrgUnit).where(OrgUnit.code == "QX01")).one()
        assert case.target_unit_id == town.id
        assert [p["role"] for p in case.target_persons][0] == "乡（镇）党委负责人"
        assert {p["name"] for p in case.target_persons} == {"青石镇党委审核人", "青石镇党建联络员"}
        # The evidence links the deadline, the draft, every reminder sent and every step taken.
        assert case.evidence["obligation"]["due_on"] == "2025-12-19"
        assert [r["offset"] for r in case.evidence["reminders"]] == [-1, 7, 3, 1, 0]
        assert [e["level_name"] for e in case.evidence["escalations"]][:2] == ["催办", "督办"]
        assert case.evidence["escalations"][1]["document"] == "清组督〔2025〕2号"
        # Documents: numbered per year without gaps; the supervision order carries its new deadline.
        docs = s.exec(select(OfficialDocument).order_by(col(OfficialDocument.id))).all()
        # (the list and plan deadlines missed since October jump straight to 问责, which has no document)
        assert [(d.kind, d.doc_number, d.issued_on) for d in docs] == [
            ("urging_notice", "清组督〔2025〕1号", dt.date(2025, 12, 22)),
            ("supervision_order", "清组督〔2025〕2号", dt.date(2025, 12, 25)),
            ("interview_notice", "清组督〔2026〕1号", dt.date(2026, 1, 4)),
            ("county_notice", "清组督〔2026〕2号", dt.date(2026, 1, 9)),
        ]
        supervise = s.exec(select(Escalation).where(Escalation.key == f"overdue:{ob.id}:2")).one()
        assert supervise.new_due_on == dt.date(2026, 1, 4)  # 5 working days from Thu 25 Dec (1–3 Jan off)
        order = docs[1]
        assert order.addressee == "青石镇党委" and order.escalation_id == supervise.id
        assert "2025年12月19日前报送" in order.html and "2026年1月4日前办结报送" in order.html
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(order.pdf)).pages)
        for expected in ("清组督〔2025〕2号", "青石镇党委", "督办单", "2025年12月25日", "（印章）"):
            assert expected in text.replace("\n", ""), expected
        notice = docs[3]
        assert notice.addressee == "各乡（镇）党委，县直各有关单位"
        assert "2025年12月22日予以催办" in notice.html and "督办" in notice.html
        # Mail: each level to the roles it names, once; the document rides along.
        escalation_mails = s.exec(select(OutboxMessage).where(col(OutboxMessage.key).startswith(f"escalation:overdue:{ob.id}:"))).all()
        keys = [m.key for m in escalation_mails]
        assert len(keys) == len(set(keys))
        by_level = {lvl: sorted(m.to_addr for m in escalation_mails if m.key.split(":")[3] == str(lvl)) for lvl in range(1, 6)}
        assert by_level[1] == ["qx01-liaison@qingxi.example"]
        assert by_level[2] == ["qx01-liaison@qingxi.example", "qx01-secretary@qingxi.example"]
        assert "zzb@qingxi.example" in by_level[5] and "lingdao@qingxi.example" in by_level[5]
        assert all(m.document_id for m in escalation_mails if m.key.split(":")[3] in "1234")
        assert any("已按规定启动问责程序" in m.body_text for m in escalation_mails if m.key.split(":")[3] == "5")
        events = [e.action for e in s.exec(select(AuditEvent).order_by(col(AuditEvent.seq)))]
        others = s.exec(select(Escalation).where(Escalation.obligation_id != ob.id)).all()
        assert events.count("escalation.open") == 5 + len(others)
        assert events.count("case.open") == len(s.exec(select(AccountabilityCase)).all())
        assert verify_chain(s).ok


async def test_the_supervision_order_is_mailed_as_a_pdf_attachment(campaign: Engine) -> None:
    ob = q4_report(campaign)
    tick_days(campaign, days(dt.date(2025, 12, 19), dt.date(2025, 12, 25)))
    mailer = MemoryMailer()
    while (await deliver_pending(campaign, mailer, at(dt.date(2025, 12, 25), 10), holder="test")).sent:
        pass
    orders = [m for m in mailer.sent if "【督办】" in str(m["Subject"])]
    assert len(orders) == 2  # the liaison and the township secretary
    message: EmailMessage = orders[0]
    [pdf] = [part for part in message.iter_attachments() if part.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == "清组督〔2025〕2号 督办单（2025年第四季度后进薄弱村党组织建设季度报告）.pdf" or \
        pdf.get_filename().startswith("清组督〔2025〕2号 督办单")
    text = PdfReader(io.BytesIO(pdf.get_content())).pages[0].extract_text().replace("\n", "")
    assert "清组督〔2025〕2号" in text and "青石镇党委" in text and str(ob.title)[:6] in text


async def test_downtime_records_every_level_but_mails_and_documents_only_the_highest(campaign: Engine) -> None:
    ob = q4_report(campaign)
    tick(campaign, at(dt.date(2025, 12, 18)))
    tick(campaign, at(dt.date(2026, 1, 5)))  # first tick after a fortnight down: level 3 reached
    assert [lvl for lvl, *_ in steps(campaign, ob.id or 0)] == [1, 2, 3]
    with Session(campaign) as s:
        docs = s.exec(select(OfficialDocument)).all()
        assert [(d.kind, d.doc_number) for d in docs] == [("interview_notice", "清组督〔2026〕1号")]
        mails = s.exec(select(OutboxMessage).where(col(OutboxMessage.key).startswith(f"escalation:overdue:{ob.id}:"))).all()
        assert {m.key.split(":")[3] for m in mails} == {"3"}


async def test_a_late_submission_stops_the_ladder_and_records_how_late(campaign: Engine) -> None:
    ob = q4_report(campaign)
    tick_days(campaign, days(dt.date(2025, 12, 19), dt.date(2025, 12, 29)))
    submit(campaign, "qx01-liaison", ob.id or 0, REPORT, at(dt.date(2025, 12, 30)))
    tick_days(campaign, days(dt.date(2025, 12, 30), dt.date(2026, 2, 27)))
    assert [(lvl, key, status) for lvl, key, _, status in steps(campaign, ob.id or 0)] == [
        (1, "urge", "resolved"), (2, "supervise", "resolved")]
    with Session(campaign) as s:
        supervise = s.exec(select(Escalation).where(Escalation.key == f"overdue:{ob.id}:2")).one()
        assert supervise.days_late == 11 and supervise.resolution == "已于2025年12月30日报送，超过期限11天"
        assert s.get(Obligation, ob.id).escalation_level == 2  # type: ignore[union-attr]
        assert s.exec(select(AccountabilityCase).where(AccountabilityCase.obligation_id == ob.id)).all() == []
        assert s.exec(select(Escalation).where(Escalation.trigger == "zero_report")).all() == []  # a real report


async def test_a_crashed_or_repeated_tick_never_records_a_step_or_case_twice(campaign: Engine, monkeypatch: Any) -> None:
    from tasks import escalation

    ob = q4_report(campaign)
    tick_days(campaign, days(dt.date(2025, 12, 19), dt.date(2026, 1, 22)))
    real = escalation.open_case
    crashes = {"n": 0}

    def crash_once(*args: Any, **kwargs: Any) -> Any:
        if crashes["n"] == 0:
            crashes["n"] += 1
            raise RuntimeError("process killed while opening the case")
        return real(*args, **kwargs)

    monkeypatch.setattr(escalation, "open_case", crash_once)
    with pytest.raises(RuntimeError):
        tick(campaign, at(dt.date(2026, 1, 23)))  # the tick's transaction that climbs the ladder rolls back
    with Session(campaign) as s:
        assert s.exec(select(Escalation).where(Escalation.key == f"overdue:{ob.id}:5")).first() is None
        assert s.get(Obligation, ob.id).escalation_level == 4  # type: ignore[union-attr]
    for _ in range(3):
        tick(campaign, at(dt.date(2026, 1, 23)))
    tick(campaign, at(dt.date(2026, 3, 2)))
    with Session(campaign) as s:
        assert len(s.exec(select(AccountabilityCase).where(AccountabilityCase.obligation_id == ob.id)).all()) == 1
        assert len(s.exec(select(Escalation).where(Escalation.obligation_id == ob.id)).all()) == 5
        assert len(s.exec(select(OfficialDocument)).all()) == 4
        keys = [m.key for m in s.exec(select(OutboxMessage))]
        assert len(keys) == len(set(keys))


# ---- triggers beyond lateness ----------------------------------------------------------------------


def _list_obligation(engine: Engine) -> Obligation:
    with Session(engine) as s:
        return s.exec(select(Obligation).where(Obligation.rule_key == "weak_village_list")).one()


def _make_key_contact(engine: Engine, code: str) -> str:
    with session_scope(engine) as s:
        village = s.exec(select(OrgUnit).where(OrgUnit.code == code)).one()
        village.key_contact_class = "C"
        s.add(village)
        return village.name


def _villages(engine: Engine, township: str) -> list[OrgUnit]:
    with Session(engine) as s:
        town = s.exec(select(OrgUnit).where(OrgUnit.code == township)).one()
        return list(s.exec(select(OrgUnit).where(OrgUnit.parent_id == town.id).order_by(col(OrgUnit.code))))


async def test_zero_report_a_list_without_the_known_weak_village(campaign: Engine) -> None:
    villages = _villages(campaign, "QX01")
    known = _make_key_contact(campaign, villages[0].code)
    ob = _list_obligation(campaign)
    sub = submit(campaign, "qx01-liaison", ob.id or 0, {
        "villages": [], "investigation": "镇党委组织人员对各村进行了走访，各村党组织运行正常。",
        "committee_meeting_date": "2025-09-26", "committee_minutes": "ATTACH", "verified": True,
        "zero_report_reason": "经调查，本镇没有软弱涣散村党组织。",
    }, at(dt.date(2025, 9, 29)))
    with Session(campaign) as s:
        [esc] = s.exec(select(Escalation).where(Escalation.trigger == "zero_report")).all()
        assert (esc.submission_id, esc.level, esc.level_key, esc.status) == (sub.id, 5, "accountability", "open")
        assert f"本乡镇有已知的后进薄弱村：{known}" in esc.reason and "零上报" in esc.reason
        assert esc.evidence and esc.evidence["known_weak_villages"] == [known]
        # Only the county's check opens a case (经县委组织部检查核实后): none yet.
        assert s.exec(select(AccountabilityCase)).all() == []
        mails = s.exec(select(OutboxMessage).where(col(OutboxMessage.key).startswith("escalation:zero_report:"))).all()
        assert {m.to_addr for m in mails} == {"zzb@qingxi.example"}  # the county checks it first
        assert all("零上报" in m.subject and "经县委组织部检查核实后" in m.body_text for m in mails)
        # The report itself went in: the county decides on it as usual.
        assert s.get(Submission, sub.id).status == "in_review"  # type: ignore[union-attr]


async def test_an_empty_list_with_a_real_reason_and_no_known_weak_village_is_not_a_zero_report(campaign: Engine) -> None:
    ob = _list_obligation(campaign)
    submit(campaign, "qx01-liaison", ob.id or 0, {
        "villages": [], "investigation": "镇党委班子成员分片包村，逐村召开党员大会和群众代表座谈会进行测评。",
        "committee_meeting_date": "2025-09-26", "committee_minutes": "ATTACH", "verified": True,
        "zero_report_reason": "经逐村测评，各村党组织群众满意率均在90%以上，班子团结、制度健全，未发现软弱涣散情形。",
    }, at(dt.date(2025, 9, 29)))
    with Session(campaign) as s:
        assert s.exec(select(Escalation)).all() == []


async def test_unverified_list_and_the_county_check_that_opens_a_case(campaign: Engine, anon: Any, login: Any,
                                                                       clock: Any) -> None:
    villages = _villages(campaign, "QX01")
    ob = _list_obligation(campaign)
    sub = submit(campaign, "qx01-liaison", ob.id or 0, {
        "villages": [villages[1].code], "investigation": "根据村里上报情况汇总确定。",
        "committee_meeting_date": "2025-09-26", "committee_minutes": "ATTACH", "verified": False,
    }, at(dt.date(2025, 9, 29)))
    with Session(campaign) as s:
        [esc] = s.exec(select(Escalation).where(Escalation.trigger == "unverified")).all()
        assert "未确认“已逐村调查核实”" in esc.reason and esc.submission_id == sub.id
    clock.set(at(dt.date(2025, 10, 9)))
    admin = await login(anon, "admin")
    liaison = await login(anon, "qx01-liaison")
    other = await login(anon, "qx02-liaison")
    body = {"note": "经县委组织部实地核查，该镇未组织逐村调查，名单系凭印象上报。", "version": esc.version}
    assert (await anon.post(f"{API}/escalations/{esc.id}/confirm", json=body, headers=liaison)).status_code == 403
    assert (await anon.get(f"{API}/escalations/{esc.id}", headers=other)).status_code == 404
    r = await anon.post(f"{API}/escalations/{esc.id}/confirm", json=body, headers=admin)
    assert r.status_code == 201, r.text
    case = r.json()
    assert r.headers["location"] == f"/api/v1/cases/{case['id']}"
    assert (case["status"], case["trigger"], case["township"]) == ("open", "unverified", "QX01")
    assert "凭印象上报" in case["reason"] and case["evidence"]["submissions"][0]["id"] == sub.id
    again = await anon.post(f"{API}/escalations/{esc.id}/confirm", json=body | {"version": esc.version + 1}, headers=admin)
    assert again.status_code == 409
    # The admin decides; the decision caps the township's rating for the year.
    decision = {"decision": "rating_downgrade", "note": "年度考核不得评定为优秀、良好等次", "rating_year": 2025,
                "version": case["version"]}
    assert (await anon.post(f"{API}/cases/{case['id']}/decision", json=decision, headers=liaison)).status_code == 403
    r = await anon.post(f"{API}/cases/{case['id']}/decision", json=decision, headers=admin)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["rating_effect"]) == ("decided", "not_excellent_or_good")
    stale = await anon.post(f"{API}/cases/{case['id']}/decision", json=decision, headers=admin)
    assert stale.status_code == 409
    ratings = (await anon.get(f"{API}/ratings/consequences", params={"year": 2025}, headers=admin)).json()["items"]
    assert [(x["township"], x["cap"]) for x in ratings] == [("QX01", "not_excellent_or_good")]
    assert (await anon.get(f"{API}/ratings/consequences", params={"year": 2025}, headers=other)).json()["items"] == []
    closed = await anon.post(f"{API}/cases/{case['id']}/close", json={"note": "已在年度考核中执行", "version": r.json()["version"]},
                             headers=admin)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    events = (await anon.get(f"{API}/audit", params={"subject": f"accountability_case:{case['id']}"}, headers=admin)).json()["items"]
    assert [e["action"] for e in events] == ["case.open", "case.decide", "case.close"]


async def test_a_county_reviewer_marks_a_report_unverified(campaign: Engine, anon: Any, login: Any, clock: Any) -> None:
    ob = q4_report(campaign)
    sub = submit(campaign, "qx01-liaison", ob.id or 0, REPORT, at(dt.date(2025, 12, 12)))
    clock.set(at(dt.date(2025, 12, 15)))
    reviewer = await login(anon, "county-reviewer")
    comment = "抽查石桥村发现，报告所称“新发展党员1名”尚在考察期，未经核实即上报。"
    assert (await anon.post(f"{API}/submissions/{sub.id}/unverified", json={"comment": comment},
                            headers=await login(anon, "qx01-secretary"))).status_code == 403
    r = await anon.post(f"{API}/submissions/{sub.id}/unverified", json={"comment": comment}, headers=reviewer)
    assert r.status_code == 201, r.text
    assert (r.json()["trigger"], r.json()["level_key"]) == ("unverified", "accountability")
    assert comment in r.json()["reason"]
    assert (await anon.post(f"{API}/submissions/{sub.id}/unverified", json={"comment": comment},
                            headers=reviewer)).status_code == 409
    # Dismissed after the check: nothing more happens.
    admin = await login(anon, "admin")
    esc = r.json()
    r = await anon.post(f"{API}/escalations/{esc['id']}/dismiss", json={"note": "复核确认该党员已按程序发展", "version": esc["version"]},
                        headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "dismissed"
    assert (await anon.get(f"{API}/cases", headers=admin)).json()["items"] == []


def _rectifying_village(engine: Engine, time_limit: str) -> tuple[int, int]:
    """A weak village in rectification with an approved 一村一策 plan (time limit as given)."""
    village = _villages(engine, "QX01")[2]
    with session_scope(engine) as s:
        campaign_id = _campaign_id(s, "QX01")
        town = s.exec(select(OrgUnit).where(OrgUnit.code == "QX01")).one()
        rect = VillageRectification(campaign_id=campaign_id, village_id=village.id or 0, status="rectifying")
        s.add(rect)
        plan = Submission(campaign_id=campaign_id, slot=f"plan:{village.id}", gate_key="village_plan", form_key="village_plan",
                          title=f"{village.name}“一村一策”表", township_id=town.id or 0, subject_id=village.id or 0,
                          status="approved", data={"village": [village.code], "problems": "班子不团结，组织生活不正常",
                                                   "measures": "调整村党支部书记，建立“三会一课”台账",
                                                   "time_limit": time_limit},
                          created_at=LAUNCH, updated_at=LAUNCH)
        s.add(plan)
        s.flush()
        return rect.id or 0, rect.version


async def test_a_later_approved_report_of_the_village_does_not_hide_its_plan(campaign: Engine) -> None:
    """The village's approved weekly report (approved after its plan) is not its 一村一策 plan: the plan's time
    limit still drives the measures-overdue ladder."""
    rect_id, _ = _rectifying_village(campaign, "2026-03-31")
    village = _villages(campaign, "QX01")[2]
    with session_scope(campaign) as s:
        town = s.exec(select(OrgUnit).where(OrgUnit.code == "QX01")).one()
        s.add(Submission(campaign_id=_campaign_id(s, "QX01"), slot=f"weekly:{village.id}", form_key="weekly_report",
                         title=f"{village.name}整顿工作周报", township_id=town.id or 0, subject_id=village.id or 0,
                         status="approved", data={"progress": "恢复三会一课", "problems": "无", "next_week": "党员大会"},
                         created_at=LAUNCH, updated_at=LAUNCH))
    tick_days(campaign, days(dt.date(2026, 3, 30), dt.date(2026, 4, 2)))
    with Session(campaign) as s:
        rows = s.exec(select(Escalation).where(Escalation.rectification_id == rect_id)).all()
        assert [e.level_key for e in rows] == ["interview"]  # 004 §一.3: straight to the interview


async def test_a_relapse_goes_to_an_interview_with_its_notice(campaign: Engine, anon: Any, login: Any, clock: Any) -> None:
    rect_id, _ = _rectifying_village(campaign, "2026-06-30")
    with session_scope(campaign) as s:
        rect = s.get(VillageRectification, rect_id)
        assert rect is not None
        rect.status, rect.accepted_on, rect.consolidation_ends_on = "consolidating", dt.date(2026, 5, 20), dt.date(2027, 5, 20)
        s.add(rect)
        s.flush()
        version = rect.version
    clock.set(at(dt.date(2026, 9, 15)))
    reviewer = await login(anon, "county-reviewer")
    comment = "明察暗访发现，该村“三会一课”再次停开，村党支部书记长期不在村。"
    r = await anon.post(f"{API}/rectifications/{rect_id}/actions", json={"action": "relapse", "version": version,
                                                                        "comment": comment}, headers=reviewer)
    assert r.status_code == 200, r.text
    listed = (await anon.get(f"{API}/escalations", params={"trigger": "relapse"}, headers=await login(anon, "admin"))).json()
    [esc] = listed["items"]
    assert (esc["level_key"], esc["subject_name"], esc["status"]) == ("interview", _villages(campaign, "QX01")[2].name, "open")
    assert comment in esc["reason"]
    assert esc["document"]["doc_number"] == "清组督〔2026〕1号" and esc["document"]["kind"] == "interview_notice"
    admin = await login(anon, "admin")
    pdf = await anon.get(esc["document"]["pdf_url"], headers=admin)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert "关于约谈青石镇党委主要负责同志的通知" in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text().replace("\n", "")
    html = await anon.get(esc["document"]["html_url"], headers=admin)
    assert html.status_code == 200 and "清组督〔2026〕1号" in html.text and "（印章）" in html.text
    # The interview is recorded with its outcome (not before it happened).
    future = {"interview_on": "2026-09-30", "outcome": "已谈", "version": esc["version"]}
    assert (await anon.post(f"{API}/escalations/{esc['id']}/interview", json=future, headers=admin)).status_code == 422
    done = {"interview_on": "2026-09-14", "place": "县委组织部会议室", "outcome": "x", "version": esc["version"]}
    assert (await anon.post(f"{API}/escalations/{esc['id']}/interview", json=done, headers=admin)).status_code == 422
    done = {"interview_on": "2026-09-15", "place": "县委组织部会议室",
            "outcome": "镇党委书记作了检查，承诺10月底前完成支部书记调整。", "version": esc["version"]}
    r = await anon.post(f"{API}/escalations/{esc['id']}/interview", json=done, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["interview"] == {"on": "2026-09-15", "place": "县委组织部会议室", "outcome": done["outcome"]}
    assert (await anon.get(f"{API}/documents/{esc['document']['id']}/pdf",
                           headers=await login(anon, "qx02-liaison"))).status_code == 404


# ---- the overview ----------------------------------------------------------------------------------


async def test_escalations_overview_filters_and_scopes(demo_county: Engine, anon: Any, login: Any, clock: Any) -> None:
    _no_key_contact_villages(demo_county)
    await launch_campaign("weak_village_rectification", "QX01", 2025, now=LAUNCH)
    await launch_campaign("weak_village_rectification", "QX02", 2025, now=LAUNCH)
    with session_scope(demo_county) as s:  # the autumn list and plans were handed in: only the Q4 reports are late
        for ob in s.exec(select(Obligation).where(col(Obligation.rule_key).in_(["weak_village_list", "village_plan"]))):
            ob.status = "met"
            s.add(ob)
    tick_days(demo_county, days(dt.date(2025, 12, 19), dt.date(2026, 1, 5)))
    clock.set(at(dt.date(2026, 1, 5)))
    admin = await login(anon, "admin")
    everything = (await anon.get(f"{API}/escalations", params={"trigger": "overdue"}, headers=admin)).json()
    assert everything["total"] == 6  # 3 levels × 2 townships
    live = (await anon.get(f"{API}/escalations", params={"status": "open"}, headers=admin)).json()["items"]
    assert sorted((e["township"], e["level"]) for e in live) == [("QX01", 3), ("QX02", 3)]
    level2 = (await anon.get(f"{API}/escalations", params={"level": 2, "township": "QX02"}, headers=admin)).json()["items"]
    assert [(e["township"], e["level_name"], e["status"]) for e in level2] == [("QX02", "督办", "escalated")]
    liaison = await login(anon, "qx01-liaison")
    mine = (await anon.get(f"{API}/escalations", headers=liaison)).json()
    assert {e["township"] for e in mine["items"]} == {"QX01"} and mine["total"] == 3
    bad = await anon.get(f"{API}/escalations", params={"township": "NOPE"}, headers=admin)
    assert bad.status_code == 422
    assert (await anon.get(f"{API}/escalations", params={"status": "maybe"}, headers=admin)).status_code == 422
    ledger = (await anon.get(f"{API}/escalations/ledger", headers=admin)).json()
    rows = {r["township"]: r for r in ledger["items"]}
    assert rows["QX01"]["by_level"] == {"约谈乡镇党委主要负责同志": 1} and rows["QX03"]["open_escalations"] == 0
    assert ledger["open_escalations"] == 2
    page = await anon.get("/escalations", headers={"accept": "text/html"}, cookies=anon.cookies)
    assert page.status_code in (200, 303)
