"""The one optimistic lock (tasks/locking.py): a missing version is a 422, a stale one a 409 that names the
current version, a lost race writes nothing, and a won one writes its audit event with the change."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.clock import CHINA_TZ
from domain.errors import StaleVersion, ValidationFailed
from domain.vocabulary import CampaignStatus
from models import AuditEvent, Campaign, OrgUnit, User
from tasks.accounts import Principal, principal_for
from tasks.audit import verify_chain
from tasks.locking import Audit, require_version, save_versioned

NOW = dt.datetime(2025, 6, 2, 9, 0, tzinfo=CHINA_TZ)


def _campaign(engine: Engine) -> int:
    """A bare campaign row: any row with a ``version`` column will do."""
    with Session(engine) as s:
        township = s.exec(select(OrgUnit).where(OrgUnit.code == "QX01")).one()
        row = Campaign(definition_key="weak_village_rectification", definition_version=1,
                       township_id=township.id or 0, year=2025, launched_at=NOW)
        s.add(row)
        s.commit()
        return row.id or 0


def _admin(s: Session) -> Principal:
    return principal_for(s, s.exec(select(User).where(User.username == "admin")).one())


def _events(s: Session) -> int:
    """Events other than the demo county's seeding (its accounts and the seeding itself)."""
    return int(s.exec(select(func.count()).select_from(AuditEvent)
                      .where(col(AuditEvent.action).not_in(["user.created", "demo.seed"]))).one())


def _audit(principal: Principal, row: Campaign) -> Audit:
    return Audit(principal, "campaign.cancel", "campaign", row.township_id, {"status": row.status},
                 lambda: {"status": row.status, "version": row.version}, NOW)


def test_require_version() -> None:
    row = Campaign(id=7, definition_key="x", definition_version=1, township_id=1, year=2025, launched_at=NOW, version=3)
    assert require_version(row, 3, what="活动") == 3
    with pytest.raises(ValidationFailed) as missing:
        require_version(row, None, what="活动")
    assert missing.value.status == 422 and missing.value.errors == [{"field": "version", "message": "required"}]
    with pytest.raises(StaleVersion) as stale:
        require_version(row, 2, what="活动")
    problem: dict[str, Any] = stale.value.extra
    assert (stale.value.status, stale.value.errors, problem) == (
        409, [{"field": "version", "message": "stale"}], {"current_version": 3})
    assert stale.value.detail == "活动已被他人修改或处理（当前版本号为 3），请刷新后重试"


def test_a_saved_change_bumps_the_version_and_writes_its_audit_event(demo_county: Engine) -> None:
    cid = _campaign(demo_county)
    with Session(demo_county, expire_on_commit=False) as s:
        row = s.get(Campaign, cid)
        assert row is not None and row.version == 1
        save_versioned(s, row, 1, {"status": CampaignStatus.CANCELLED}, what="活动", audit=_audit(_admin(s), row))
        assert (row.status, row.version) == ("cancelled", 2)  # the row was read back
        s.commit()
    with Session(demo_county) as s:
        event = s.exec(select(AuditEvent).order_by(col(AuditEvent.seq).desc())).first()  # after the seeding's
        assert event is not None and (event.action, event.subject_type, event.subject_id, event.actor) == (
            "campaign.cancel", "campaign", cid, "admin")
        assert (event.before, event.after) == ({"status": "active"}, {"status": "cancelled", "version": 2})
        assert verify_chain(s).ok


def test_a_lost_race_writes_nothing_and_names_the_winners_version(demo_county: Engine) -> None:
    cid = _campaign(demo_county)
    with Session(demo_county, expire_on_commit=False) as s:
        principal = _admin(s)
        row = s.get(Campaign, cid)
        assert row is not None
        s.commit()  # end the read (on SQLite it holds the write lock); the row keeps version 1 in memory
        with Session(demo_county) as other:  # a concurrent decision commits first
            other.execute(update(Campaign).where(col(Campaign.id) == cid).values(version=Campaign.version + 1))
            other.commit()
        with pytest.raises(StaleVersion) as lost:
            save_versioned(s, row, 1, {"status": CampaignStatus.CANCELLED}, what="活动", audit=_audit(principal, row))
        assert lost.value.extra == {"current_version": 2}
        assert lost.value.errors == [{"field": "version", "message": "stale"}]
        s.rollback()
    with Session(demo_county) as s:
        row = s.get(Campaign, cid)
        assert row is not None and (row.status, row.version) == ("active", 2)
        assert _events(s) == 0
