"""``tasks.review.save_and_submit`` (the form's 提交 after editing, and the simulated liaisons' one step): the same
outcome and the same audit trail as saving the draft and then submitting it, and nothing written when the answer is
refused."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.clock import CHINA_TZ
from core.db import session_scope
from domain.errors import ValidationFailed
from models import AuditEvent, Obligation, Submission, SubmissionRound
from tasks import review
from tests.support.world import as_user, launch

LAUNCH = dt.datetime(2025, 1, 2, 9, tzinfo=CHINA_TZ)
NOW = dt.datetime(2025, 12, 10, 10, tzinfo=CHINA_TZ)
REPORT = {"basic_situation": "共有后进薄弱村2个，已逐村落实整顿措施。", "results": "完成班子调整1个，新发展党员2名。",
          "main_problems": "个别村集体经济薄弱，带头人能力不足。", "next_steps": "下季度完成村级活动场所改造，加强培训。"}


def _draft(engine: Engine) -> int:
    """青石镇's liaison starts its first quarterly report (a draft, half filled in)."""
    (campaign_id,) = launch(engine, ["QX01"], LAUNCH)
    with session_scope(engine) as s:
        ob = s.exec(select(Obligation).where(Obligation.campaign_id == campaign_id, Obligation.kind == "quarterly_report")
                    .order_by(col(Obligation.due_on))).first()
        assert ob is not None
        sub = review.create_submission(s, as_user(s, "qx01-liaison"), NOW, obligation_id=ob.id or 0,
                                       data={"basic_situation": REPORT["basic_situation"]})
        return sub.id or 0


def _trail(s: Session, sub_id: int) -> list[str]:
    return list(s.exec(select(AuditEvent.action).where(AuditEvent.subject_type == "submission",
                                                       AuditEvent.subject_id == sub_id).order_by(col(AuditEvent.seq))))


def test_save_and_submit_is_the_update_then_the_submit(demo_county: Engine) -> None:
    sub_id = _draft(demo_county)
    with session_scope(demo_county) as s:
        sub = s.get(Submission, sub_id)
        assert sub is not None
        review.save_and_submit(s, as_user(s, "qx01-liaison"), NOW, sub_id, REPORT, sub.version)
    with Session(demo_county) as s:
        sub = s.get(Submission, sub_id)
        assert sub is not None and sub.status == "in_review" and sub.data == REPORT
        ob = s.get(Obligation, sub.obligation_id)
        assert ob is not None and ob.status == "submitted"
        assert [r.data for r in s.exec(select(SubmissionRound).where(SubmissionRound.submission_id == sub_id))] == [REPORT]
        assert _trail(s, sub_id) == ["submission.create", "submission.update", "submission.submit"]
        update = s.exec(select(AuditEvent).where(AuditEvent.subject_id == sub_id,
                                                 AuditEvent.action == "submission.update")).one()
        assert update.after is not None and update.after["data"] == REPORT


def test_an_incomplete_answer_is_refused_and_nothing_is_written(demo_county: Engine) -> None:
    sub_id = _draft(demo_county)
    with Session(demo_county) as s:
        before = s.get(Submission, sub_id)
        assert before is not None
        version = before.version
    with pytest.raises(ValidationFailed) as refused, session_scope(demo_county) as s:
        review.save_and_submit(s, as_user(s, "qx01-liaison"), NOW, sub_id, {"results": REPORT["results"]}, version)
    assert {e["field"] for e in refused.value.errors} >= {"data.basic_situation", "data.main_problems"}
    with Session(demo_county) as s:
        sub = s.get(Submission, sub_id)
        assert sub is not None and sub.status == "draft" and sub.version == version
        assert sub.data == {"basic_situation": REPORT["basic_situation"]}
        assert _trail(s, sub_id) == ["submission.create"]
