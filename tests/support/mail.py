"""Mail as the templates need it: a context for every template, and users to send to."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.clock import CHINA_TZ
from models import OrgUnit, User

DAY = dt.date(2027, 3, 20)
ZH_DAY = "2027年3月20日"
NOW = dt.datetime(2027, 3, 20, 9, 30, tzinfo=CHINA_TZ)
LINK = "http://duban.test/submissions/7"

SUBMISSION = {
    "recipient_name": "张三",
    "title": "青石村2027年一季度整顿工作报告",
    "township": "青石镇",
    "subject_unit": "青石村",
    "round": 2,
    "link": LINK,
}

# Every variable each template needs (all of them used when none is None).
CONTEXTS: dict[str, dict[str, Any]] = {
    "audit_anchor": {"recipient_name": "张三", "title": "审计链锚点", "seq": 1234, "hash": "ab" * 32,
                     "anchored_at": DAY, "anchor_file": "/srv/duban-anchors/audit-anchors.jsonl", "link": LINK},
    "desk_notice": {"recipient_name": "张三", "subject": "【延期申请】清理软弱涣散村党组织台账", "title": "清理软弱涣散村党组织台账",
                    "lines": ["申请延期至2027年3月27日（原定期限2027年3月20日）。", "理由：材料需补充核实"], "link": LINK},
    "submission_submitted": {**SUBMISSION, "level_name": "乡镇党委审核", "due_date": DAY},
    "submission_returned": {
        **SUBMISSION, "level_name": "乡镇党委审核", "decided_on": DAY, "comment": "请补充会议记录", "due_date": DAY,
    },
    "submission_approved": {
        **SUBMISSION, "level_name": "乡镇党委审核", "next_level_name": "县委组织部审核", "decided_on": DAY,
        "comment": "同意",
    },
    "submission_rejected": {**SUBMISSION, "level_name": "县委组织部审核", "decided_on": DAY, "comment": "不符合条件"},
    "returns_exceeded": {**SUBMISSION, "returns": 4, "max_returns": 3, "decided_on": DAY},
    "stage_passed": {
        "recipient_name": "李四",
        "campaign_title": "五好党建示范点创建",
        "township": "青石镇",
        "stage_name": "宣传动员",
        "passed_on": DAY,
        "next_stage_name": "组织实施",
        "next_stage_due": dt.date(2027, 10, 31),
        "link": LINK,
    },
    "obligation_opened": {
        **{k: SUBMISSION[k] for k in ("recipient_name", "title", "township", "subject_unit", "link")},
        "period": "2027年第一季度", "due_date": DAY, "sections": ["基本情况", "取得成效"],
    },
    "reminder": {
        **{k: SUBMISSION[k] for k in ("recipient_name", "title", "township", "subject_unit", "link")},
        "due_date": DAY, "days_left": 3, "missing": ["取得成效", "尚未提交"],
    },
    "daily_digest": {
        "recipient_name": "王五", "digest_date": DAY,
        "items": [{"title": SUBMISSION["title"], "subject_unit": "青石村", "due_date": DAY, "days_left": 0, "link": LINK}],
    },
    "escalation": {
        **{k: SUBMISSION[k] for k in ("recipient_name", "title", "township", "subject_unit", "link")},
        "due_date": DAY, "today": DAY, "days_late": 3, "level": 2, "level_name": "督办", "next_level_name": "约谈",
    },
    "escalation_trigger": {
        **{k: SUBMISSION[k] for k in ("recipient_name", "title", "township", "subject_unit", "link")},
        "reason": "“名单”属零上报", "trigger": "zero_report", "trigger_label": "零上报", "level": 5, "level_name": "问责",
        "findings": ["“后进薄弱村党组织名单”未列出任何村"], "new_due_on": DAY, "document_number": "清组督〔2027〕1号",
        "awaiting_check": False, "case_opened": True, "confirmed": True,
    },
}


def mail_user(engine: Engine, username: str, *, email: str | None, active: bool = True) -> User:
    """A submitter of a test county (made on first use) with ``email``, committed."""
    with Session(engine, expire_on_commit=False) as s:
        county = s.exec(select(OrgUnit).where(OrgUnit.code == "T")).first()
        if county is None:
            county = OrgUnit(code="T", name="测试县", kind="county")
            s.add(county)
            s.flush()
        user = User(
            username=username,
            display_name=f"{username}同志",
            email=email,
            password_hash="x",
            role="submitter",
            org_unit_id=county.id,
            active=active,
            created_at=dt.datetime(2027, 1, 4, 8, 0, tzinfo=dt.UTC),
        )
        s.add(user)
        s.commit()
        return user
