"""Diary entries written straight into the database, for tests of the yearly assessment that need a cadre's
《工作日记》 without walking the work-records API."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import select

from core.db import session_scope
from models import Cadre, DiaryEntry, OrgUnit

AT = dt.datetime(2027, 3, 1, 1, 0, tzinfo=dt.UTC)


def diary(engine: Engine, cadre: str, village: str, *days: dt.date) -> None:
    """One diary entry of ``cadre`` in ``village`` on each of ``days``."""
    with session_scope(engine) as session:
        cadre_id = session.exec(select(Cadre.id).where(Cadre.code == cadre)).one()
        village_id = session.exec(select(OrgUnit.id).where(OrgUnit.code == village)).one()
        for day in days:
            session.add(DiaryEntry(cadre_id=cadre_id or 0, village_id=village_id or 0, entry_date=day,
                                   place="村委会", work="走访农户，了解集体经济发展思路", created_at=AT))
