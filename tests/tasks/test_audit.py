"""The hash-chained audit trail: appending, tamper detection, concurrency and ``duban audit verify``."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import json
import threading
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli.main import app
from core.clock import CHINA_TZ
from core.db import session_scope
from models import AuditEvent
from tasks.audit import (
    GENESIS_HASH,
    EventSpec,
    append_event,
    append_events,
    canonical_json,
    event_hash,
    events_for,
    jsonable,
    verify_chain,
)

runner = CliRunner()
T0 = dt.datetime(2025, 3, 4, 9, 30, 15, 123456, tzinfo=CHINA_TZ)


def _append(session: Session, i: int, **overrides: Any) -> AuditEvent:
    fields: dict[str, Any] = {
        "actor_id": i,
        "actor": f"审核员{i}",
        "action": "submission.approve",
        "subject_type": "submission" if i % 2 else "campaign",
        "subject_id": 100 + i,
        "township_id": 7,
        "before": {"status": "submitted", "level": i},
        "after": {"status": "approved", "due": dt.date(2025, 3, 31), "note": f"第{i}轮通过"},
        "now": T0 + dt.timedelta(minutes=i),
    }
    fields.update(overrides)
    return append_event(session, **fields)


def _seed(engine: Engine, n: int = 5) -> None:
    for i in range(1, n + 1):
        with session_scope(engine) as s:
            _append(s, i)


def _sql(engine: Engine, statement: str, **params: Any) -> None:
    with engine.begin() as conn:
        conn.execute(text(statement), params)


def _set_after(engine: Engine, seq: int, value: dict[str, Any]) -> None:
    cast = "CAST(:v AS json)" if engine.dialect.name == "postgresql" else ":v"
    _sql(engine, f"UPDATE audit_events SET after = {cast} WHERE seq = :seq", v=json.dumps(value), seq=seq)


def _verify(engine: Engine, **kw: Any) -> Any:
    with Session(engine) as s:
        return verify_chain(s, **kw)


def _seqs(engine: Engine) -> list[int]:
    with Session(engine) as s:
        return list(s.exec(select(AuditEvent.seq).order_by(col(AuditEvent.seq))).all())


# --------------------------------------------------------------------------------------------------------------
# A good chain
# --------------------------------------------------------------------------------------------------------------


def test_empty_trail_is_intact(engine: Engine) -> None:
    result = _verify(engine)
    assert (result.ok, result.checked, result.first_bad_seq, result.reason) == (True, 0, None, None)


def test_appends_form_a_linked_chain(engine: Engine) -> None:
    _seed(engine)
    result = _verify(engine)
    assert result.ok and result.checked == 5 and result.first_bad_seq is None
    with Session(engine) as s:
        events = list(s.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all())
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS_HASH
    for prev, event in zip(events, events[1:], strict=False):
        assert event.prev_hash == prev.hash
    third = events[2]
    # Stored JSON is JSON-safe (dates as ISO strings) and the time is UTC with microseconds.
    assert third.after == {"status": "approved", "due": "2025-03-31", "note": "第3轮通过"}
    assert third.at == (T0 + dt.timedelta(minutes=3)).astimezone(dt.UTC)
    # The hash is sha256(prev_hash + canonical JSON), recomputable by anyone from the documented format.
    canonical = json.dumps(
        {
            "seq": 3, "at": "2025-03-04T01:33:15.123456+00:00", "actor_id": 3, "actor": "审核员3",
            "action": "submission.approve", "subject_type": "submission", "subject_id": 103, "township_id": 7,
            "before": {"status": "submitted", "level": 3}, "after": third.after,
        },
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    assert third.hash == hashlib.sha256((third.prev_hash + canonical).encode()).hexdigest()


def test_several_appends_in_one_transaction(engine: Engine) -> None:
    with session_scope(engine) as s:
        a = _append(s, 1)
        b = _append(s, 2)
        with s.no_autoflush:  # pending events count even when nothing has been flushed
            c = _append(s, 3)
            d = _append(s, 4)
    assert [a.seq, b.seq, c.seq, d.seq] == [1, 2, 3, 4]
    assert d.prev_hash == c.hash and c.prev_hash == b.hash
    assert _verify(engine).ok


def test_a_transaction_reads_the_last_link_once(engine: Engine) -> None:
    _seed(engine, 2)
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM audit_events ORDER BY audit_events.seq DESC" in statement or "pg_advisory_xact_lock" in statement:
            reads.append(statement)

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        with session_scope(engine) as s:
            for i in range(3, 7):
                _append(s, i)
            append_events(s, [EventSpec(None, "system", "campaign.launch", "campaign", 200, 7)], now=T0)
            _append(s, 8)
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    assert len(reads) == (2 if engine.dialect.name == "postgresql" else 1)  # the lock and one read
    assert _seqs(engine) == list(range(1, 9))
    assert _verify(engine).checked == 8


def test_a_rolled_back_savepoint_is_not_linked_to(engine: Engine) -> None:
    _seed(engine, 2)
    with session_scope(engine) as s:
        third = _append(s, 3)
        savepoint = s.begin_nested()
        _append(s, 4, actor="撤销的")
        s.flush()
        savepoint.rollback()
        fourth = _append(s, 4)
    assert (fourth.seq, fourth.prev_hash) == (4, third.hash)
    assert _verify(engine).checked == 4


def test_the_next_transaction_reads_the_chain_again(engine: Engine) -> None:
    with Session(engine) as mine:
        _append(mine, 1)
        mine.commit()
        with session_scope(engine) as other:  # another writer appends between this session's transactions
            _append(other, 2)
        assert _append(mine, 3).seq == 3
        mine.commit()
    assert _verify(engine).checked == 3


def test_a_rolled_back_append_leaves_no_gap(engine: Engine) -> None:
    _seed(engine, 2)
    with pytest.raises(RuntimeError), session_scope(engine) as s:
        _append(s, 3)
        raise RuntimeError("the change being audited failed")
    with session_scope(engine) as s:
        assert _append(s, 3).seq == 3
    assert _verify(engine).checked == 3


def test_append_rejects_naive_time_and_unsafe_values(engine: Engine) -> None:
    with Session(engine) as s:
        with pytest.raises(ValueError, match="aware"):
            _append(s, 1, now=dt.datetime(2025, 1, 1, 9, 0))
        with pytest.raises(TypeError):
            _append(s, 1, after={"blob": b"\x00"})
        with pytest.raises(ValueError):
            _append(s, 1, after={"score": float("nan")})
        with pytest.raises(ValueError, match="actor"):
            _append(s, 1, actor="x" * 101)


class Colour(enum.Enum):
    RED = "red"


def test_jsonable() -> None:
    aware = dt.datetime(2025, 1, 2, 9, 0, 0, 5, tzinfo=CHINA_TZ)
    value = {
        1: dt.date(2025, 1, 2),
        "at": aware,
        "naive": dt.datetime(2025, 1, 2, 9, 0),
        "money": decimal.Decimal("12.50"),
        "colour": Colour.RED,
        "tags": {"b", "a"},
        "pair": (1, [dt.time(8, 30)]),
        "none": None,
    }
    assert jsonable(value) == {
        "1": "2025-01-02",
        "at": "2025-01-02T01:00:00.000005+00:00",
        "naive": "2025-01-02T09:00:00.000000",
        "money": "12.50",
        "colour": "red",
        "tags": ["a", "b"],
        "pair": [1, ["08:30:00"]],
        "none": None,
    }
    with pytest.raises(ValueError, match="duplicate"):
        jsonable({1: "a", "1": "b"})
    with pytest.raises(TypeError):
        jsonable(object())


def test_events_for(engine: Engine) -> None:
    _seed(engine, 6)
    with Session(engine) as s:
        assert [e.seq for e in events_for(s, None, None, 100, 0)] == [1, 2, 3, 4, 5, 6]
        assert [e.seq for e in events_for(s, "submission", None, 100, 0)] == [1, 3, 5]
        assert [e.seq for e in events_for(s, "submission", 103, 100, 0)] == [3]
        assert [e.seq for e in events_for(s, None, 104, 100, 0)] == [4]
        assert [e.seq for e in events_for(s, None, None, 2, 3)] == [4, 5]
        assert events_for(s, "campaign", 103, 100, 0) == []


# --------------------------------------------------------------------------------------------------------------
# Tampering
# --------------------------------------------------------------------------------------------------------------


def test_an_edited_event_is_reported(engine: Engine) -> None:
    _seed(engine)
    _set_after(engine, 3, {"status": "rejected", "due": "2025-03-31", "note": "第3轮通过"})
    result = _verify(engine)
    assert not result.ok and result.first_bad_seq == 3 and result.checked == 2
    assert result.reason == "event 3 was edited (hash mismatch) / 第3条审计记录被修改"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor", "另一人"),
        ("action", "submission.reject"),
        ("subject_id", 999),
        ("township_id", None),
    ],
)
def test_any_edited_column_is_reported(engine: Engine, column: str, value: Any) -> None:
    _seed(engine)
    _sql(engine, f"UPDATE audit_events SET {column} = :v WHERE seq = 4", v=value)
    result = _verify(engine)
    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert "edited" in (result.reason or "")


def test_an_edited_time_is_reported(engine: Engine) -> None:
    _seed(engine)
    with Session(engine) as s:
        event = s.exec(select(AuditEvent).where(AuditEvent.seq == 2)).one()
        event.at = event.at + dt.timedelta(microseconds=1)  # through the ORM, bypassing append_event
        s.add(event)
        s.commit()
    assert _verify(engine).first_bad_seq == 2


def test_a_deleted_middle_event_is_reported(engine: Engine) -> None:
    _seed(engine)
    _sql(engine, "DELETE FROM audit_events WHERE seq = 3")
    result = _verify(engine)
    assert not result.ok and result.first_bad_seq == 3 and result.checked == 2
    assert result.reason is not None and "missing" in result.reason and "第3条审计记录缺失" in result.reason


def test_a_deletion_hidden_by_renumbering_is_reported(engine: Engine) -> None:
    _seed(engine)
    _sql(engine, "DELETE FROM audit_events WHERE seq = 3")
    _sql(engine, "UPDATE audit_events SET seq = 3 WHERE seq = 4")
    _sql(engine, "UPDATE audit_events SET seq = 4 WHERE seq = 5")
    result = _verify(engine)
    assert (result.ok, result.first_bad_seq) == (False, 3)


def test_a_truncated_head_is_reported(engine: Engine) -> None:
    _seed(engine)
    _sql(engine, "DELETE FROM audit_events WHERE seq <= 2")
    result = _verify(engine)
    assert (result.ok, result.first_bad_seq, result.checked) == (False, 1, 0)
    assert result.reason is not None and "truncated" in result.reason


def test_reordered_events_are_reported(engine: Engine) -> None:
    _seed(engine)
    # Swap seq 2 and 4 through a temporary seq (seq is unique).
    _sql(engine, "UPDATE audit_events SET seq = -1 WHERE seq = 2")
    _sql(engine, "UPDATE audit_events SET seq = 2 WHERE seq = 4")
    _sql(engine, "UPDATE audit_events SET seq = 4 WHERE seq = -1")
    result = _verify(engine)
    assert not result.ok and result.first_bad_seq == 2 and result.checked == 1
    assert result.reason is not None and "out of order" in result.reason and "顺序被调换" in result.reason


def test_a_forged_event_with_a_recomputed_hash_breaks_the_next_link(engine: Engine) -> None:
    _seed(engine)
    with Session(engine) as s:
        e = s.exec(select(AuditEvent).where(AuditEvent.seq == 3)).one()
        forged_after = {"status": "rejected"}
        forged_hash = event_hash(
            e.prev_hash,
            canonical_json(
                seq=e.seq, at=e.at, actor_id=e.actor_id, actor=e.actor, action=e.action,
                subject_type=e.subject_type, subject_id=e.subject_id, township_id=e.township_id,
                before=e.before, after=forged_after,
            ),
        )
    _set_after(engine, 3, forged_after)
    _sql(engine, "UPDATE audit_events SET hash = :h WHERE seq = 3", h=forged_hash)
    result = _verify(engine)
    assert not result.ok and result.first_bad_seq == 4 and result.checked == 3
    assert result.reason is not None and "does not link to event 3" in result.reason


def test_unreadable_json_is_reported_not_raised(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        pytest.skip("PostgreSQL's json type refuses invalid JSON")
    _seed(engine)
    _sql(engine, "UPDATE audit_events SET after = '{not json' WHERE seq = 5")
    assert _verify(engine).first_bad_seq == 5


@pytest.mark.parametrize("batch_size", [1, 2, 5, 1000])
def test_verification_pages_through_the_chain(engine: Engine, batch_size: int) -> None:
    _seed(engine, 7)
    assert _verify(engine, batch_size=batch_size).checked == 7
    _sql(engine, "DELETE FROM audit_events WHERE seq = 6")
    result = _verify(engine, batch_size=batch_size)
    assert (result.ok, result.first_bad_seq, result.checked) == (False, 6, 5)


def test_verification_inside_an_open_transaction_sees_its_own_appends(engine: Engine) -> None:
    _seed(engine, 3)
    with Session(engine) as s, s.begin():
        _append(s, 4)
        s.flush()
        result = verify_chain(s, batch_size=2)
    assert result.ok and result.checked == 4


# --------------------------------------------------------------------------------------------------------------
# Concurrency
# --------------------------------------------------------------------------------------------------------------


def test_concurrent_appends_keep_the_chain_linear(engine: Engine) -> None:
    threads, per_thread = 8, 10
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                with Session(engine) as s:
                    _append(s, t * 100 + i, actor=f"thread-{t}")
                    s.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join(timeout=120)
    assert not any(th.is_alive() for th in pool)
    assert errors == []
    assert _seqs(engine) == list(range(1, threads * per_thread + 1))
    result = _verify(engine)
    assert result.ok and result.checked == threads * per_thread


# --------------------------------------------------------------------------------------------------------------
# duban audit verify
# --------------------------------------------------------------------------------------------------------------


def test_cli_audit_verify(engine: Engine) -> None:
    empty = runner.invoke(app, ["audit", "verify"])
    assert empty.exit_code == 0, empty.output
    assert "审计链完整：共 0 条记录" in empty.output
    _seed(engine)
    good = runner.invoke(app, ["audit", "verify"])
    assert good.exit_code == 0, good.output
    assert "审计链完整：共 5 条记录" in good.output
    _set_after(engine, 4, {"status": "forged"})
    bad = runner.invoke(app, ["audit", "verify"])
    assert bad.exit_code == 1, bad.output
    assert "第 4 条" in bad.output and "event 4 was edited" in bad.output


def test_events_appended_together_continue_the_chain_one_by_one_appends_started(engine: Engine) -> None:
    _seed(engine, 2)
    specs = [EventSpec(None, "system", "campaign.launch", "campaign", 200 + i, 7, after={"year": 2025, "n": i})
             for i in range(3)]
    with session_scope(engine) as s:
        assert append_events(s, specs, now=T0) == 5
        _append(s, 6)  # a single append in the same transaction follows the bulk ones
    with Session(engine) as s:
        events = list(s.exec(select(AuditEvent).order_by(col(AuditEvent.seq))))
        assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]
        assert [e.subject_id for e in events[2:5]] == [200, 201, 202]
        assert events[3].after == {"year": 2025, "n": 1} and events[3].township_id == 7
        assert verify_chain(s).ok
    with session_scope(engine) as s, pytest.raises(ValueError, match="timezone-aware"):
        append_events(s, specs, now=T0.replace(tzinfo=None))
