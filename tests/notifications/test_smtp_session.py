"""One SMTP connection per delivery batch (``SmtpMailer.session``), against a real aiosmtpd server.

The server counts the connections it accepts and the QUITs it gets, records which connection carried each
message, and can be told to refuse a recipient (550), to answer 421 to one DATA, or to hang up after the
n-th message of a connection — either cleanly after its 250, or after taking the message in and before
answering (the window in which a message can arrive twice: see ``notifications.mailer.SmtpSession``).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.clock import CHINA_TZ
from core.net import free_port
from models import OutboxMessage
from notifications.delivery import DeliveryStats, deliver_pending
from notifications.mailer import (
    MemoryMailer,
    PermanentFailure,
    SessionMailer,
    SmtpMailer,
    TemporaryFailure,
    build_email,
)
from notifications.outbox import message_id_for
from tests.support.smtp import parse, smtp_server

NOW = dt.datetime(2027, 3, 20, 9, 30, tzinfo=CHINA_TZ)


@dataclass
class Mailbox:
    """What the server saw; the knobs of its misbehaviour."""

    refuse: set[str] = field(default_factory=set)  # recipients answered 550 at RCPT
    data_421: set[str] = field(default_factory=set)  # Message-IDs answered 421 at DATA (once each)
    hang_up_after: int = 0  # close the connection after this many messages on it (0: never)
    before_reply: bool = False  # hang up after taking the last message in, before its 250
    connections: int = 0
    quits: int = 0
    received: list[tuple[int, str]] = field(default_factory=list)  # (connection number, Message-ID)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:  # noqa: N802
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message_id = str(parse(envelope)["Message-ID"])
        with self.lock:
            if message_id in self.data_421:
                self.data_421.discard(message_id)
                return "421 4.3.2 System not accepting network messages"
            self.received.append((server.number, message_id))
            server.taken += 1
        return "250 2.0.0 Message accepted for delivery"

    def ids(self) -> Counter[str]:
        with self.lock:
            return Counter(mid for _, mid in self.received)

    def connections_used(self) -> list[int]:
        with self.lock:
            return [n for n, _ in self.received]


class CountingSMTP(SMTP):
    mailbox: Mailbox

    def connection_made(self, transport: Any) -> None:
        with self.mailbox.lock:
            self.mailbox.connections += 1
            self.number = self.mailbox.connections
        self.taken = 0
        super().connection_made(transport)

    async def smtp_DATA(self, arg: str) -> None:  # noqa: N802
        box = self.mailbox
        if box.hang_up_after and box.before_reply and self.taken == box.hang_up_after - 1:
            # take this message in, then hang up without a reply
            async def push(status: Any) -> None:
                if self.taken == box.hang_up_after and self.transport is not None:
                    self.transport.close()
                else:
                    await SMTP.push(self, status)

            self.push = push  # type: ignore[method-assign]
        await super().smtp_DATA(arg)
        if box.hang_up_after and not box.before_reply and self.taken == box.hang_up_after and self.transport:
            self.transport.close()  # after the 250 went out

    async def smtp_QUIT(self, arg: str) -> None:  # noqa: N802
        with self.mailbox.lock:
            self.mailbox.quits += 1
        await super().smtp_QUIT(arg)


class CountingController(Controller):
    def factory(self) -> SMTP:
        server = CountingSMTP(self.handler)
        server.mailbox = self.handler
        return server



@pytest.fixture
def server() -> Iterator[tuple[Mailbox, SmtpMailer]]:
    with smtp_server(Mailbox(), controller=CountingController) as smtp:
        with smtp.handler.lock:
            smtp.handler.connections = 0  # start() connects once to check that the server is up
        yield smtp.handler, smtp.mailer()


def _add(engine: Engine, count: int, to: dict[int, str] | None = None) -> list[str]:
    """``count`` pending messages; returns their Message-IDs in id (= sending) order."""
    with Session(engine, expire_on_commit=False) as s:
        rows = [OutboxMessage(key=f"m:{i}", message_id=message_id_for(f"m:{i}"),
                              to_addr=(to or {}).get(i, f"user{i}@example.cn"), subject=f"【催报提醒】季度报告·{i}",
                              body_text="请按时报送。\n", body_html="<p>请按时报送。</p>",
                              created_at=NOW - dt.timedelta(minutes=5)) for i in range(count)]
        s.add_all(rows)
        s.commit()
        return [r.message_id for r in sorted(rows, key=lambda r: r.id or 0)]


def _statuses(engine: Engine) -> Counter[str]:
    with Session(engine) as s:
        return Counter(s.exec(select(OutboxMessage.status)).all())


async def test_a_batch_goes_over_one_connection(engine: Engine, server: tuple[Mailbox, SmtpMailer]) -> None:
    mailbox, mailer = server
    assert isinstance(mailer, SessionMailer) and not isinstance(MemoryMailer(), SessionMailer)
    assert await deliver_pending(engine, mailer, NOW, holder="w") == DeliveryStats()
    assert mailbox.connections == 0  # nothing to send: no connection at all

    ids = _add(engine, 12)
    assert await deliver_pending(engine, mailer, NOW, holder="w", batch=50) == DeliveryStats(sent=12)
    assert mailbox.ids() == Counter(dict.fromkeys(ids, 1))
    assert mailbox.connections == 1 and set(mailbox.connections_used()) == {1}
    assert mailbox.quits == 1  # closed politely at the end of the batch
    assert _statuses(engine) == Counter(sent=12)


async def test_a_server_hanging_up_after_its_250_loses_nothing(
    engine: Engine, server: tuple[Mailbox, SmtpMailer]
) -> None:
    mailbox, mailer = server
    mailbox.hang_up_after = 4
    ids = _add(engine, 10)
    assert await deliver_pending(engine, mailer, NOW, holder="w") == DeliveryStats(sent=10)
    assert mailbox.ids() == Counter(dict.fromkeys(ids, 1))  # each exactly once
    assert mailbox.connections_used() == [1] * 4 + [2] * 4 + [3] * 2
    assert mailbox.connections == 3
    assert _statuses(engine) == Counter(sent=10)


async def test_a_server_hanging_up_before_its_250_sends_that_one_message_twice(
    engine: Engine, server: tuple[Mailbox, SmtpMailer]
) -> None:
    mailbox, mailer = server
    mailbox.hang_up_after, mailbox.before_reply = 3, True
    ids = _add(engine, 7)
    assert await deliver_pending(engine, mailer, NOW, holder="w") == DeliveryStats(sent=7)
    # The 3rd message of each connection was taken in, then the connection broke before its 250: it is
    # sent again at once over a new connection (the documented in-flight window) — nothing else twice.
    assert mailbox.ids() == Counter(dict.fromkeys(ids, 1)) + Counter([ids[2], ids[4], ids[6]])
    assert mailbox.connections_used() == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4]
    assert _statuses(engine) == Counter(sent=7)


async def test_a_refused_recipient_does_not_break_the_others(
    engine: Engine, server: tuple[Mailbox, SmtpMailer]
) -> None:
    mailbox, mailer = server
    mailbox.refuse.add("gone@example.cn")
    ids = _add(engine, 6, to={2: "gone@example.cn"})
    mailbox.data_421.add(ids[4])
    assert await deliver_pending(engine, mailer, NOW, holder="w") == DeliveryStats(sent=4, retried=1, dead=1)
    assert mailbox.ids() == Counter(dict.fromkeys([ids[0], ids[1], ids[3], ids[5]], 1))
    # the 550 keeps the connection (RSET); the 421 closes it and the next message opens another
    assert mailbox.connections_used() == [1, 1, 1, 2]
    with Session(engine) as s:
        rows = {r.message_id: r for r in s.exec(select(OutboxMessage))}
    assert rows[ids[2]].status == "dead" and "550" in (rows[ids[2]].last_error or "")
    assert rows[ids[4]].status == "pending" and "421" in (rows[ids[4]].last_error or "")


async def test_a_session_fails_as_send_does(server: tuple[Mailbox, SmtpMailer]) -> None:
    mailbox, mailer = server
    mailbox.refuse.add("gone@example.cn")
    rows = [OutboxMessage(key=f"s:{i}", message_id=message_id_for(f"s:{i}"), to_addr=to, subject="提醒",
                          body_text="请按时报送。\n", body_html="<p>请按时报送。</p>", created_at=NOW)
            for i, to in enumerate(["a@example.cn", "gone@example.cn", "b@example.cn"])]
    messages = [build_email(r, "清溪县委组织部", "duban@example.cn") for r in rows]
    async with mailer.session() as sender:
        await sender.send(messages[0])
        with pytest.raises(PermanentFailure) as refused:
            await sender.send(messages[1])
        await sender.send(messages[2])
        assert sender.connections == 1
    with pytest.raises(PermanentFailure) as alone:
        await mailer.send(messages[1])
    assert refused.value.code == alone.value.code == 550 and refused.value.reason == alone.value.reason
    assert mailbox.ids() == Counter([rows[0].message_id, rows[2].message_id])
    assert mailbox.connections == 2 and mailbox.quits == 2

    closed = SmtpMailer("127.0.0.1", free_port(), timeout=5)
    async with closed.session() as sender:
        for message in messages:  # each message tries to connect again, and fails as send does
            with pytest.raises(TemporaryFailure) as info:
                await sender.send(message)
            assert "connect" in info.value.reason
        assert sender.connections == len(messages)
