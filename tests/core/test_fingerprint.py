"""``tests.support.databases.db_fingerprint``: the cheap check the route matrix makes after each refused write
must see every change a full snapshot sees."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.support.databases import changed_tables, db_fingerprint, db_snapshot


def test_the_fingerprint_moves_with_any_change_of_any_row_and_only_then(demo_county: Engine) -> None:
    engine = demo_county
    first = db_fingerprint(engine)
    assert db_fingerprint(engine) == first  # reading changes nothing
    before = db_snapshot(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE org_units SET name = name || '（改）' WHERE code = 'QX02'"))
    moved = db_fingerprint(engine)
    assert [t for t in moved if moved[t] != first[t]] == changed_tables(before, db_snapshot(engine)) == ["org_units"]
    with engine.begin() as conn:  # back as it was: the same fingerprint again
        conn.execute(text("UPDATE org_units SET name = replace(name, '（改）', '') WHERE code = 'QX02'"))
    assert db_fingerprint(engine) == first
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)"))
    assert [t for t in db_fingerprint(engine) if db_fingerprint(engine)[t] != first[t]] == ["audit_events"]
