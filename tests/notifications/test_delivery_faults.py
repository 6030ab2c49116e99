"""Delivery of the outbox through a misbehaving SMTP server, over a virtual clock.

The server (aiosmtpd on 127.0.0.1) answers 421 to the first attempts of some messages (at RCPT or at
DATA), 550 to one recipient, stalls on one DATA for longer than the client's timeout, and is stopped for a
while and restarted on the same port. ``deliver_pending`` runs again whenever the virtual clock passes the
next back-off. At the end every message was either received or dead-lettered with its reason; none is lost
(the rows are all still there) and none is received twice — except the stalled one.

At-least-once across a timeout: the stalling server has already taken the message in (it records it, then
takes 3 s to answer 250) when the client gives up after 1 s. For the client that is a timeout, a temporary
failure, so the message is sent again later and the server has it twice. Both copies carry the same stable
Message-ID, so the receiver can drop the second. SMTP cannot do better; the test pins that this is the only
way a duplicate arises.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.clock import CHINA_TZ
from models import OutboxMessage
from notifications.delivery import DeliveryStats, deliver_pending
from notifications.outbox import message_id_for
from tests.support.smtp import ACCEPTED, RecordingHandler, SmtpServer, parse, smtp_server

T0 = dt.datetime(2027, 3, 20, 9, 30, tzinfo=CHINA_TZ)
STALL_SECONDS = 3.0
CLIENT_TIMEOUT = 1.0


@dataclass
class FaultyHandler(RecordingHandler):
    """Records what it accepts; misbehaves on chosen recipients and Message-IDs."""

    rcpt_421_first: dict[str, int] = field(default_factory=dict)  # address → how many RCPTs get 421
    rcpt_550: set[str] = field(default_factory=set)
    data_421_first: dict[str, int] = field(default_factory=dict)  # Message-ID → how many DATAs get 421
    stall_first: dict[str, int] = field(default_factory=dict)  # Message-ID → how many DATAs stall
    rcpt_seen: Counter[str] = field(default_factory=Counter)
    data_seen: Counter[str] = field(default_factory=Counter)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:  # noqa: N802
        with self.lock:
            self.rcpt_seen[address] += 1
            seen = self.rcpt_seen[address]
        if address in self.rcpt_550:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if seen <= self.rcpt_421_first.get(address, 0):
            return "421 4.7.0 Too many connections, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message_id = str(parse(envelope)["Message-ID"])
        with self.lock:
            self.data_seen[message_id] += 1
            seen = self.data_seen[message_id]
        if seen <= self.data_421_first.get(message_id, 0):
            return "421 4.3.2 System not accepting network messages"
        self.record(envelope)  # queued: from here on the server has the message
        if seen <= self.stall_first.get(message_id, 0):
            await asyncio.sleep(STALL_SECONDS)  # ... but is slow to say so (cancelled when the client leaves)
        return ACCEPTED


@pytest.fixture
def smtp() -> Iterator[SmtpServer[FaultyHandler]]:
    with smtp_server(FaultyHandler()) as server:
        yield server


def _add(engine: Engine, key: str, to: str, next_attempt_at: dt.datetime | None = None) -> int:
    with Session(engine, expire_on_commit=False) as s:
        row = OutboxMessage(
            key=key, message_id=message_id_for(key), to_addr=to, subject=f"【催报提醒】青石镇·季度报告·{key}",
            body_text="请按时报送。\n", body_html="<p>请按时报送。</p>", created_at=T0 - dt.timedelta(minutes=5),
            next_attempt_at=next_attempt_at,
        )
        s.add(row)
        s.commit()
        assert row.id is not None
        return row.id


def _rows(engine: Engine) -> dict[str, OutboxMessage]:
    with Session(engine) as s:
        return {r.key: r for r in s.exec(select(OutboxMessage))}


async def test_faults_lose_nothing_and_duplicate_only_across_a_timeout(engine: Engine, smtp: SmtpServer[FaultyHandler]) -> None:
    handler = smtp.handler
    for i in range(6):
        _add(engine, f"ok:{i}", f"user{i}@example.cn")
    _add(engine, "busy-a", "busy-a@example.cn")
    _add(engine, "busy-b", "busy-b@example.cn")
    _add(engine, "data-421", "data421@example.cn")
    _add(engine, "gone", "gone@example.cn")
    _add(engine, "stall", "stall@example.cn")
    # two messages that fall due while the server is down
    _add(engine, "late:0", "late0@example.cn", next_attempt_at=T0 + dt.timedelta(minutes=1))
    _add(engine, "late:1", "late1@example.cn", next_attempt_at=T0 + dt.timedelta(minutes=1))
    total = 13
    handler.rcpt_421_first.update({"busy-a@example.cn": 2, "busy-b@example.cn": 3})
    handler.rcpt_550.add("gone@example.cn")
    handler.data_421_first[message_id_for("data-421")] = 2
    handler.stall_first[message_id_for("stall")] = 1
    mailer = smtp.mailer(timeout=CLIENT_TIMEOUT)

    # Round 0: the server is up; the plain ones go out, the rest fail each in its own way.
    stats = await deliver_pending(engine, mailer, T0, holder="w")
    assert stats == DeliveryStats(sent=6, retried=4, dead=1)
    rows = _rows(engine)
    assert Counter(handler.message_ids()) == Counter({message_id_for(f"ok:{i}"): 1 for i in range(6)}
                                            | {message_id_for("stall"): 1})  # the server has it, the client timed out
    for key in ("busy-a", "busy-b", "data-421"):
        assert (rows[key].status, rows[key].attempts) == ("pending", 1)
        assert rows[key].last_error is not None and "421" in rows[key].last_error
        assert rows[key].next_attempt_at == T0 + dt.timedelta(seconds=30)
    assert rows["stall"].status == "pending" and "timeout" in (rows["stall"].last_error or "").lower()
    assert rows["gone"].status == "dead" and "550" in (rows["gone"].last_error or "")
    assert "User unknown" in (rows["gone"].last_error or "")

    # Then the server goes away for a while, and comes back on the same port.
    smtp.stop()
    now = T0
    outage_errors: list[str] = []
    for round_ in range(1, 40):
        with Session(engine) as s:
            pending = s.exec(select(OutboxMessage).where(OutboxMessage.status == "pending")).all()
        if not pending:
            break
        now = max(now, min(r.next_attempt_at or now for r in pending)) + dt.timedelta(seconds=1)  # past the back-off
        if round_ == 4:
            smtp.start()
        before = {k: r.attempts for k, r in _rows(engine).items()}
        stats = await deliver_pending(engine, mailer, now, holder="w")
        assert stats.skipped == 0 and stats.dead == 0, stats
        if not smtp.running:
            assert stats.sent == 0 and stats.retried > 0
            outage_errors += [r.last_error or "" for k, r in _rows(engine).items() if r.attempts > before[k]]
        with Session(engine) as s:
            assert len(s.exec(select(OutboxMessage)).all()) == total  # nothing vanishes on the way
    else:
        pytest.fail("the outbox never drained")
    assert len(outage_errors) == 8 and all("connect" in e.lower() for e in outage_errors), outage_errors

    rows = _rows(engine)
    assert len(rows) == total
    statuses = Counter(r.status for r in rows.values())
    assert statuses == Counter({"sent": total - 1, "dead": 1})
    gone = rows["gone"]
    assert (gone.status, gone.attempts) == ("dead", 1) and "550" in (gone.last_error or "")
    for key, row in rows.items():
        if key != "gone":
            assert row.sent_at is not None and row.last_error is None and row.lease_until is None, key

    received = Counter(handler.message_ids())
    sent_ids = {r.message_id for r in rows.values() if r.status == "sent"}
    assert set(received) == sent_ids  # every sent one arrived; the dead one never did
    duplicates = {mid: n for mid, n in received.items() if n > 1}
    assert duplicates == {message_id_for("stall"): 2}  # at-least-once across the timeout, nothing else
    # The faults really happened, and were outlived by retries (not by giving up).
    assert rows["busy-a"].attempts >= 3 and rows["busy-b"].attempts >= 4 and rows["data-421"].attempts >= 3
    assert handler.rcpt_seen["busy-b@example.cn"] == 4 and handler.data_seen[message_id_for("data-421")] == 3
    assert rows["late:0"].attempts >= 2  # first tried during the outage
    assert all(r.attempts < 10 for r in rows.values())
