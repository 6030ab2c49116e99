"""The reads of ``tasks.reads`` and the loads by id of the service layer, through the real database: a
township's users see only their own township, an observer only the townships of their scope, county-wide
roles every township; an object of another township raises the same NotFound as one that does not exist.

The world: 青石镇 (QX01), 柳河乡 (QX02) and 白沙镇 (QX03) each run the 2025 weak-village rectification; on
10 Dec 2025 each has a submitted Q4 report with a PDF attached, an approved weak-village list (its two
villages in rectification, its escalation for not confirming the check), the county's finding that the
report was not verified (an escalation confirmed into an accountability case that lowers the year's rating),
and an urging notice."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.clock import CHINA_TZ
from core.db import session_scope
from domain.definitions import EscalationLevel
from domain.errors import DubanError, NotFound
from models import (
    AccountabilityCase,
    Campaign,
    Escalation,
    Obligation,
    OrgUnit,
    Stage,
    Submission,
    User,
    VillageRectification,
)
from tasks import accountability, rectification, review
from tasks.accounts import Principal, principal_for
from tasks.escalation import Step, issue_document, mark_unverified
from tasks.escalation import confirm as confirm_escalation
from tasks.launch import launch_one
from tasks.reads import (
    campaigns,
    cases,
    dashboard,
    documents,
    escalations,
    org_units,
    rectifications,
    submissions,
    todos,
)
from tasks.registry import get_definition
from tests.support.world import judged_as_met

LAUNCH = dt.datetime(2025, 1, 2, 9, tzinfo=CHINA_TZ)
NOW = dt.datetime(2025, 12, 10, 9, tzinfo=CHINA_TZ)
TODAY = NOW.date()
TOWNSHIPS = ("QX01", "QX02", "QX03")
COUNTY_WIDE = ("admin", "county-reviewer")
REPORT = {"basic_situation": "共有后进薄弱村2个，已逐村落实整顿措施。", "results": "完成班子调整1个，新发展党员2名。",
          "main_problems": "个别村集体经济薄弱，带头人能力不足。", "next_steps": "下季度完成村级活动场所改造，加强培训。"}
PDF = b"%PDF-1.4\n%%EOF\n"
MISSING = 987654


@dataclass
class World:
    """Per township code, the ids of its objects (``campaign``, ``report``, ``list``, ``attachment``,
    ``obligation``, ``escalation``, ``case``, ``document``, ``rectification``) and its own id."""

    engine: Engine
    ids: dict[str, dict[str, int]] = field(default_factory=dict)

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)


def who(s: Session, username: str) -> Principal:
    return principal_for(s, s.exec(select(User).where(User.username == username)).one())


def _obligation(s: Session, campaign_id: int, kind: str, period: str | None = None) -> int:
    stmt = select(Obligation).where(Obligation.campaign_id == campaign_id, Obligation.kind == kind)
    if period is not None:
        stmt = stmt.where(Obligation.period == period)
    found = s.exec(stmt.order_by(col(Obligation.id))).first()
    assert found is not None, (campaign_id, kind, period)
    return found.id or 0


def _township_material(s: Session, code: str, campaign_id: int) -> dict[str, int]:
    """A township's liaison submits its Q4 report (a PDF attached) and its weak-village list."""
    liaison = who(s, f"{code.lower()}-liaison")
    report = review.create_submission(s, liaison, NOW, obligation_id=_obligation(s, campaign_id, "quarterly_report", "2025Q4"),
                                      subject=None, data=REPORT)
    attachment = review.add_attachment(s, liaison, NOW, report.id or 0, filename="附件.pdf", content_type="application/pdf",
                                       content=PDF)
    review.submit_submission(s, liaison, NOW, report.id or 0, report.version)
    listed = review.create_submission(s, liaison, NOW, obligation_id=_obligation(s, campaign_id, "list"), subject=None, data={
        "villages": [f"{code}001", f"{code}002"], "investigation": "逐村过筛子，召开座谈会核实问题。",
        "committee_meeting_date": "2025-10-09"})
    minutes = review.add_attachment(s, liaison, NOW, listed.id or 0, filename="党委会议纪要.pdf",
                                    content_type="application/pdf", content=PDF)
    review.update_draft(s, liaison, NOW, listed.id or 0, listed.data | {"committee_minutes": [minutes.id]}, listed.version)
    review.submit_submission(s, liaison, NOW, listed.id or 0, listed.version)
    return {"report": report.id or 0, "attachment": attachment.id or 0, "list": listed.id or 0,
            "obligation": _obligation(s, campaign_id, "quarterly_report", "2026Q1")}


def _county_findings(s: Session, ids: dict[str, int]) -> None:
    """The county approves the list, finds the report not verified (a case), and urges on the list's escalation."""
    admin = who(s, "admin")
    listed = s.get(Submission, ids["list"])
    assert listed is not None
    review.decide(s, admin, NOW, ids["list"], decision="approve", comment=None, version=listed.version,
                  checks=judged_as_met(s, ids["list"], NOW))
    flagged = s.exec(select(Escalation).where(Escalation.submission_id == ids["list"],  # not "verified" (a list
                                              Escalation.trigger == "unverified")).one()  # leaving out B/C: zero_report)
    report = s.get(Submission, ids["report"])
    campaign = s.get(Campaign, ids["campaign"])
    assert report is not None and campaign is not None
    found = mark_unverified(s, who(s, "county-reviewer"), NOW, report, get_definition(campaign.definition_key), campaign,
                            "报告数据与实地不符")
    s.flush()
    case = confirm_escalation(s, admin, NOW, found.id or 0, note="核实属实", version=found.version)
    s.flush()
    accountability.decide(s, admin, NOW, case.id or 0, decision="rating_downgrade", note="年度考核降低等次",
                          rating_year=2025, suspension_days=None, version=case.version)
    ids["case"] = case.id or 0
    township = s.get(OrgUnit, campaign.township_id)
    assert township is not None
    level = EscalationLevel(key="urge", name="催办", after_workdays=1, recipients=[{"role": "submitter"}],
                            document="urging_notice")
    step = Step(campaign=campaign, township=township, trigger=flagged.trigger, level=1, key="doc", reason=flagged.reason,
                item_title="名单")
    doc = issue_document(s, level, step, flagged, TODAY, NOW)
    flagged.document_id = doc.id
    s.add(flagged)
    ids |= {"escalation": flagged.id or 0, "document": doc.id or 0,
            "rectification": s.exec(select(VillageRectification.id)
                                    .where(VillageRectification.campaign_id == ids["campaign"])).first() or 0}


@pytest.fixture
def world(demo_county: Engine) -> World:
    w = World(demo_county)
    for code in TOWNSHIPS:
        outcome = launch_one(demo_county, "weak_village_rectification", code, 2025, LAUNCH)
        w.ids[code] = {"campaign": outcome.campaign_id or 0}
    with session_scope(demo_county) as s:
        for code in TOWNSHIPS:
            w.ids[code]["township"] = s.exec(select(OrgUnit.id).where(OrgUnit.code == code)).one() or 0
            w.ids[code] |= _township_material(s, code, w.ids[code]["campaign"])
        s.flush()
        for code in TOWNSHIPS:
            _county_findings(s, w.ids[code])
    return w


# ---- who sees which townships -------------------------------------------------------------------------

SEES: dict[str, set[str]] = {
    "admin": set(TOWNSHIPS), "county-reviewer": set(TOWNSHIPS), "observer": {"QX01", "QX02"},
    "qx01-liaison": {"QX01"}, "qx01-secretary": {"QX01"}, "qx02-liaison": {"QX02"}, "qx02-secretary": {"QX02"},
}


def _codes(items: list[dict[str, Any]], key: str = "township") -> set[str]:
    return {str(i[key]) for i in items}


def _all_townships(s: Session) -> set[str]:
    """The demo county's townships, with a campaign or not."""
    return set(s.exec(select(OrgUnit.code).where(OrgUnit.kind == "township")).all())


def _lists(s: Session, p: Principal, world: World) -> dict[str, set[Any]]:
    """The townships each list read shows the caller."""
    by_campaign = {world.ids[c]["campaign"]: c for c in TOWNSHIPS}
    by_escalation = {world.ids[c]["escalation"]: c for c in TOWNSHIPS}
    return {
        "campaigns": _codes(campaigns.list_campaigns(s, p).items),
        "latest campaigns": {by_campaign[c["campaign"].id] for c in campaigns.latest_campaigns(s, p)},
        "campaign choices": {by_campaign[c["id"]] for c in campaigns.campaign_choices(s, p)},
        "submissions": _codes(submissions.list_submissions(s, p)),
        "escalations": _codes(escalations.list_escalations(s, p).items),
        "escalations (page)": _codes(escalations.present(s, escalations.find_escalations(s, p))),
        "ledger rows with work": {r["township"] for r in escalations.escalation_ledger(s, p)["items"]
                                  if r["open_escalations"] or r["cases_open"]},
        "cases": {by_campaign[c["campaign_id"]] for c in cases.list_cases(s, p).items},
        "documents": {by_escalation[d["escalation_id"]] for d in documents.list_documents(s, p)},
        "rectifications": {by_campaign[r["campaign_id"]] for r in rectifications.list_rectifications(s, p)},
        "rating consequences": _codes(accountability.rating_consequences(s, p, 2025)),
    }


def test_every_list_holds_only_the_callers_townships(world: World) -> None:
    with world.session() as s:
        for user, sees in SEES.items():
            p = who(s, user)
            shown = _lists(s, p, world)
            assert shown == dict.fromkeys(shown, sees), user
            assert campaigns.list_campaigns(s, p).total == len(sees), user
            towns = _all_townships(s) if user in COUNTY_WIDE else sees  # with a campaign or not
            assert _codes(escalations.escalation_ledger(s, p)["items"]) == towns, user
            assert {t.code for t in org_units.townships(s, p)} == towns, user


def test_org_units_are_the_county_the_callers_townships_and_their_villages(world: World) -> None:
    with world.session() as s:
        for user, sees in SEES.items():
            p = who(s, user)
            listed = org_units.list_org_units(s, p, limit=1000)
            assert listed.total == len(listed.items)
            towns = {u["code"] for u in listed.items if u["kind"] == "township"}
            assert {u["code"] for u in listed.items if u["kind"] == "county"} == {"QX"}
            assert towns == {u["parent"] for u in listed.items if u["kind"] == "village"}, user
            assert towns == (_all_townships(s) if user in COUNTY_WIDE else sees), user
            assert {u.code for u in org_units.units(s, p, kind="township")} == towns, user
            with pytest.raises(NotFound) as missing:
                org_units.list_org_units(s, p, parent="QX99")
            for code in TOWNSHIPS:
                if code in towns:
                    assert {u["parent"] for u in org_units.list_org_units(s, p, parent=code).items} == {code}
                    continue
                with pytest.raises(NotFound) as outside:
                    org_units.list_org_units(s, p, parent=code)
                assert _shape(outside.value, code) == _shape(missing.value, "QX99"), (user, code)


def test_the_queues_the_todos_and_the_dashboard_are_scoped(world: World) -> None:
    with world.session() as s:
        for code in ("QX01", "QX02"):
            assert _codes(submissions.review_queue(s, who(s, f"{code.lower()}-secretary"), now=NOW)) == {code}
            own = {o.id for o in s.exec(select(Obligation).where(Obligation.campaign_id == world.ids[code]["campaign"]))}
            listed = todos.todos(s, who(s, f"{code.lower()}-liaison"), TODAY, missing=True)
            assert listed and {i["obligation_id"] for i in listed} <= own
        for user in ("admin", "county-reviewer", "observer"):
            view = dashboard.dashboard(s, who(s, user), TODAY, definition="weak_village_rectification", year=2025)
            assert {r["township"].code for r in view["rows"] if r["campaign"]} == SEES[user], user
        with pytest.raises(DubanError) as refused:
            dashboard.dashboard(s, who(s, "qx01-liaison"), TODAY)
        assert refused.value.status == 403



def test_the_dashboard_counts_what_the_tables_hold(world: World) -> None:
    """Each township's line counts its campaign's deadlines, stages, rectified villages, open escalations and open
    accountability cases as the tables hold them (the dashboard reads them all in one statement)."""
    with world.session() as s:
        reopened = s.get(AccountabilityCase, world.ids["QX01"]["case"])  # the world's cases are decided: one open
        assert reopened is not None
        reopened.status = "open"
        s.add(reopened)
        s.flush()  # (never committed: the session rolls back when it closes)
        view = dashboard.dashboard(s, who(s, "admin"), TODAY, definition="weak_village_rectification", year=2025)
        rows = {r["township"].code: r for r in view["rows"] if r["campaign"]}
        assert set(rows) == set(TOWNSHIPS)
        seen = {"escalations": 0, "cases": 0, "rectifications": 0}
        for code, row in rows.items():
            cid, town = row["campaign"].id, row["township"].id
            obs = list(s.exec(select(Obligation).where(Obligation.campaign_id == cid)))
            assert (row["on_time"], row["due"]) == dashboard.on_time_counts(obs, TODAY), code
            assert (row["late"], row["missed"]) == (sum(o.status == "late" for o in obs),
                                                     sum(o.status == "missed" for o in obs)), code
            assert {k: st.status for k, st in row["stages"].items()} == \
                {st.key: st.status for st in s.exec(select(Stage).where(Stage.campaign_id == cid))}, code
            escalated = s.exec(select(Escalation).where(Escalation.campaign_id == cid, Escalation.status == "open")).all()
            assert row["escalations"] == sum(e.township_id == town for e in escalated), code
            assert row["cases"] == len(s.exec(select(AccountabilityCase).where(
                AccountabilityCase.campaign_id == cid, AccountabilityCase.status == "open")).all()), code
            listed = Counter(v.status for v in s.exec(select(VillageRectification).where(
                VillageRectification.campaign_id == cid)) if v.status != "removed")
            assert row["rectifications"] == listed and row["rectification_total"] == listed.total(), code
            seen = {"escalations": seen["escalations"] + row["escalations"], "cases": seen["cases"] + row["cases"],
                    "rectifications": seen["rectifications"] + row["rectification_total"]}
        assert all(seen.values()), seen  # the world has some of each
        assert view["totals"]["escalations"] == seen["escalations"] and view["totals"]["cases"] == seen["cases"]

# ---- loads by id: another township's object answers as a missing one ------------------------------------

Load = Callable[[Session, Principal, int], Any]
LOADS: dict[str, tuple[str, Load]] = {
    "campaign": ("campaign", lambda s, p, i: campaigns.get_campaign(s, p, i)),
    "submission": ("report", lambda s, p, i: submissions.get_submission(s, p, i, now=NOW)),
    "submission page": ("report", lambda s, p, i: submissions.submission_view(s, p, i, now=NOW)),
    "load_submission": ("report", review.load_submission),
    "attachment": ("attachment", lambda s, p, i: submissions.load_attachment(s, p, i)),
    "obligation": ("obligation", review.load_obligation),
    "escalation": ("escalation", lambda s, p, i: escalations.get_escalation(s, p, i)),
    "document": ("document", lambda s, p, i: documents.get_document(s, p, i)),
    "case": ("case", lambda s, p, i: cases.get_case(s, p, i)),
    "load case": ("case", accountability.load),
    "rectification": ("rectification", rectification.load),
}


def _shape(exc: Exception, object_id: int | str) -> tuple[type, str, int]:
    assert isinstance(exc, DubanError)
    return type(exc), re.sub(re.escape(str(object_id)), "<id>", exc.detail), exc.status


def test_a_load_by_id_of_another_township_answers_like_a_missing_one(world: World) -> None:
    with world.session() as s:
        for name, (key, read) in LOADS.items():
            for user, sees in SEES.items():
                p = who(s, user)
                with pytest.raises(NotFound) as missing:
                    read(s, p, MISSING)
                for code in TOWNSHIPS:
                    object_id = world.ids[code][key]
                    if code in sees:
                        assert read(s, p, object_id) is not None
                        continue
                    with pytest.raises(NotFound) as outside:
                        read(s, p, object_id)
                    assert _shape(outside.value, object_id) == _shape(missing.value, MISSING), (name, user, code)
