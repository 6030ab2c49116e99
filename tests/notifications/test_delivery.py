"""Delivery of the mail outbox against a real SMTP server (aiosmtpd), on every database backend.

Never lost, never duplicated (except a crash between the server's 250 and our commit): messages go out
once each with their stable Message-ID, temporary failures come back later with a back-off, permanent
ones are parked as dead until an administrator retries them, and concurrent deliverers never send the
same message twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import email.utils
import re
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtplib import (
    SMTPAuthenticationError,
    SMTPConnectError,
    SMTPReadTimeoutError,
    SMTPRecipientRefused,
    SMTPRecipientsRefused,
    SMTPSenderRefused,
    SMTPServerDisconnected,
)
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.clock import CHINA_TZ
from core.settings import get_settings
from domain.errors import InvalidTransition, NotFound
from models import OutboxMessage
from notifications import delivery
from notifications.delivery import DeliveryStats, backoff, deliver_pending, outbox_summary, retry_dead
from notifications.mailer import (
    MemoryMailer,
    PermanentFailure,
    SmtpMailer,
    TemporaryFailure,
    build_email,
    classify_smtp_error,
)
from notifications.outbox import message_id_for
from notifications.render import MAIL_TEMPLATES, render_mail
from tests.support.smtp import RecordingHandler, SmtpServer, smtp_server

NOW = dt.datetime(2027, 3, 20, 9, 30, tzinfo=CHINA_TZ)
SUBJECT = "【退回修改】青石村2027年一季度整顿工作报告（第2轮）"
TEXT = "张三，您好：\n\n您报送的材料于2027年3月20日被退回修改。\n"
HTML = "<!DOCTYPE html><html><body><p>张三，您好：</p><p>您报送的材料于2027年3月20日被退回修改。</p></body></html>"


# --- a real SMTP server -------------------------------------------------------------------------------


@dataclass
class ReplyingHandler(RecordingHandler):
    """Records every accepted message; answers chosen recipients (or every MAIL or DATA) with an error."""

    rcpt_replies: dict[str, str] = field(default_factory=dict)
    mail_reply: str | None = None
    data_reply: str | None = None

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, mail_options: Any) -> str:  # noqa: N802
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:  # noqa: N802
        reply = self.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.data_reply:
            return self.data_reply
        return await super().handle_DATA(server, session, envelope)


Smtp = SmtpServer[ReplyingHandler]


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    with smtp_server(ReplyingHandler()) as server:
        yield server


# --- outbox rows --------------------------------------------------------------------------------------


def _add(engine: Engine, count: int = 1, *, prefix: str = "m", to: str | None = None, **values: Any) -> list[int]:
    ids = []
    with Session(engine, expire_on_commit=False) as s:
        rows = []
        for i in range(count):
            key = f"{prefix}:{i}"
            row = OutboxMessage(
                key=key,
                message_id=message_id_for(key),
                to_addr=to or f"user{i}@example.cn",
                subject=f"{SUBJECT}·{i}",
                body_text=TEXT,
                body_html=HTML,
                created_at=NOW - dt.timedelta(minutes=5),
                **values,
            )
            s.add(row)
            rows.append(row)
        s.commit()
        ids = [r.id for r in rows if r.id is not None]
    return ids


def _row(engine: Engine, outbox_id: int) -> OutboxMessage:
    with Session(engine) as s:
        row = s.get(OutboxMessage, outbox_id)
        assert row is not None
        return row


def _statuses(engine: Engine) -> Counter[str]:
    with Session(engine) as s:
        return Counter(s.exec(select(OutboxMessage.status)).all())


def _message(to_addr: str = "wang@example.cn", subject: str = SUBJECT) -> OutboxMessage:
    return OutboxMessage(
        id=1,
        key="k",
        message_id=message_id_for("k"),
        to_addr=to_addr,
        subject=subject,
        body_text=TEXT,
        body_html=HTML,
        created_at=NOW,
    )


# --- delivery through a real SMTP server ----------------------------------------------------------------


async def test_each_message_is_delivered_once_with_its_message_id(engine: Engine, smtp: Smtp) -> None:
    ids = _add(engine, 3)
    stats = await deliver_pending(engine, smtp.mailer(), NOW, holder="w1")
    assert stats == DeliveryStats(sent=3)
    received = smtp.handler.received
    assert len(received) == 3
    assert sorted(smtp.handler.message_ids()) == sorted(message_id_for(f"m:{i}") for i in range(3))
    by_id = {str(r.message["Message-ID"]): r for r in received}
    for i in range(3):
        got = by_id[message_id_for(f"m:{i}")]
        assert got.rcpt_tos == [f"user{i}@example.cn"]
        assert got.mail_from == "duban@localhost"
        msg = got.message
        assert msg["Subject"] == f"{SUBJECT}·{i}"
        assert msg["From"].addresses[0].display_name == get_settings().organisation_name
        assert msg.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
        plain = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        assert plain is not None and html is not None
        assert plain.get_content().replace("\r\n", "\n") == TEXT
        assert "2027年3月20日" in html.get_content()
        assert email.utils.parsedate_to_datetime(msg["Date"]) == NOW - dt.timedelta(minutes=5)
    for outbox_id in ids:
        row = _row(engine, outbox_id)
        assert (row.status, row.attempts, row.sent_at, row.lease_until, row.last_error) == ("sent", 1, NOW, None, None)

    # Running again, even much later, sends nothing more.
    again = await deliver_pending(engine, smtp.mailer(), NOW + dt.timedelta(days=1), holder="w1")
    assert again == DeliveryStats()
    assert len(smtp.handler.received) == 3


async def test_a_message_not_yet_due_waits(engine: Engine, smtp: Smtp) -> None:
    (later,) = _add(engine, 1, next_attempt_at=NOW + dt.timedelta(minutes=1))
    assert await deliver_pending(engine, smtp.mailer(), NOW, holder="w") == DeliveryStats()
    assert smtp.handler.received == []
    stats = await deliver_pending(engine, smtp.mailer(), NOW + dt.timedelta(minutes=1), holder="w")
    assert stats.sent == 1 and _row(engine, later).status == "sent"


async def test_451_is_retried_with_backoff_then_delivered(engine: Engine, smtp: Smtp) -> None:
    (ok,) = _add(engine, 1, prefix="ok")
    (busy,) = _add(engine, 1, prefix="busy", to="busy@example.cn")
    smtp.handler.rcpt_replies["busy@example.cn"] = "451 4.3.0 Mailbox busy, try again later"
    mailer = smtp.mailer()

    stats = await deliver_pending(engine, mailer, NOW, holder="w")
    assert stats == DeliveryStats(sent=1, retried=1)
    row = _row(engine, busy)
    assert (row.status, row.attempts, row.next_attempt_at, row.lease_until) == (
        "pending",
        1,
        NOW + dt.timedelta(seconds=30),
        None,
    )
    assert row.last_error is not None and "451" in row.last_error and "busy" in row.last_error
    assert _row(engine, ok).status == "sent"

    # Before the back-off has passed nothing is tried; after it, the next failure waits 2 minutes.
    assert await deliver_pending(engine, mailer, NOW + dt.timedelta(seconds=29), holder="w") == DeliveryStats()
    t2 = NOW + dt.timedelta(seconds=31)
    assert await deliver_pending(engine, mailer, t2, holder="w") == DeliveryStats(retried=1)
    row = _row(engine, busy)
    assert (row.attempts, row.next_attempt_at) == (2, t2 + dt.timedelta(minutes=2))

    # The mailbox frees up; once the clock passes next_attempt_at it is delivered, once.
    del smtp.handler.rcpt_replies["busy@example.cn"]
    assert await deliver_pending(engine, mailer, t2 + dt.timedelta(minutes=1), holder="w") == DeliveryStats()
    t3 = t2 + dt.timedelta(minutes=2)
    assert await deliver_pending(engine, mailer, t3, holder="w") == DeliveryStats(sent=1)
    row = _row(engine, busy)
    assert (row.status, row.attempts, row.sent_at) == ("sent", 3, t3)
    assert Counter(smtp.handler.message_ids()) == Counter({message_id_for("ok:0"): 1, message_id_for("busy:0"): 1})


async def test_550_is_dead_with_the_reason_until_retried(engine: Engine, smtp: Smtp) -> None:
    (gone,) = _add(engine, 1, to="gone@example.cn")
    smtp.handler.rcpt_replies["gone@example.cn"] = "550 5.1.1 No such user here"
    mailer = smtp.mailer()

    assert await deliver_pending(engine, mailer, NOW, holder="w") == DeliveryStats(dead=1)
    row = _row(engine, gone)
    assert (row.status, row.attempts, row.lease_until) == ("dead", 1, None)
    assert row.last_error is not None and "550" in row.last_error and "No such user here" in row.last_error
    # Dead messages are never picked up again by themselves.
    assert await deliver_pending(engine, mailer, NOW + dt.timedelta(days=30), holder="w") == DeliveryStats()
    assert smtp.handler.received == []

    later = NOW + dt.timedelta(hours=1)
    with Session(engine) as s:
        assert outbox_summary(s) == {"pending": 0, "sending": 0, "sent": 0, "dead": 1}
        retried = retry_dead(s, gone, later)
        assert (retried.status, retried.next_attempt_at, retried.attempts) == ("pending", later, 1)
        s.commit()
    del smtp.handler.rcpt_replies["gone@example.cn"]
    assert await deliver_pending(engine, mailer, later, holder="w") == DeliveryStats(sent=1)
    assert (_row(engine, gone).status, _row(engine, gone).attempts) == ("sent", 2)
    assert smtp.handler.message_ids() == [message_id_for("m:0")]


def test_retry_dead_refuses_what_is_not_dead(engine: Engine) -> None:
    (pending,) = _add(engine, 1)
    with Session(engine) as s:
        with pytest.raises(InvalidTransition):
            retry_dead(s, pending, NOW)
        with pytest.raises(NotFound):
            retry_dead(s, 999_999, NOW)


async def test_server_down_loses_nothing(engine: Engine, smtp: Smtp) -> None:
    ids = _add(engine, 2)
    smtp.stop()
    mailer = smtp.mailer()
    assert await deliver_pending(engine, mailer, NOW, holder="w") == DeliveryStats(retried=2)
    for outbox_id in ids:
        row = _row(engine, outbox_id)
        assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, NOW + dt.timedelta(seconds=30))
        assert row.last_error and ("connect" in row.last_error.lower() or "refused" in row.last_error.lower())

    smtp.start()
    assert await deliver_pending(engine, mailer, NOW + dt.timedelta(seconds=30), holder="w") == DeliveryStats(sent=2)
    assert sorted(smtp.handler.message_ids()) == sorted(message_id_for(f"m:{i}") for i in range(2))
    assert _statuses(engine) == Counter({"sent": 2})


async def test_a_row_stuck_in_sending_with_an_expired_lease_is_reclaimed(engine: Engine, smtp: Smtp) -> None:
    (stuck,) = _add(engine, 1, prefix="stuck", status="sending", lease_until=NOW - dt.timedelta(seconds=1))
    (busy,) = _add(engine, 1, prefix="busy", status="sending", lease_until=NOW + dt.timedelta(seconds=60))
    assert await deliver_pending(engine, smtp.mailer(), NOW, holder="w") == DeliveryStats(sent=1)
    assert _row(engine, stuck).status == "sent"
    assert smtp.handler.message_ids() == [message_id_for("stuck:0")]
    # A live lease is respected until it runs out.
    row = _row(engine, busy)
    assert (row.status, row.lease_until) == ("sending", NOW + dt.timedelta(seconds=60))
    assert await deliver_pending(engine, smtp.mailer(), NOW + dt.timedelta(seconds=61), holder="w") == DeliveryStats(
        sent=1
    )
    assert _row(engine, busy).status == "sent"


async def _drain(engine: Engine, mailer: SmtpMailer, holder: str, batch: int) -> DeliveryStats:
    total = DeliveryStats()
    for _ in range(100):
        stats = await deliver_pending(engine, mailer, NOW, holder=holder, batch=batch)
        for name in ("sent", "retried", "dead", "skipped"):
            setattr(total, name, getattr(total, name) + getattr(stats, name))
        if stats == DeliveryStats():
            return total
    raise AssertionError("the outbox did not drain")


async def test_two_concurrent_deliverers_send_each_message_once(engine: Engine, smtp: Smtp) -> None:
    _add(engine, 24)
    # One call each, the same batch: whoever claims a row first sends it.
    a, b = await asyncio.gather(
        deliver_pending(engine, smtp.mailer(), NOW, holder="a", batch=50),
        deliver_pending(engine, smtp.mailer(), NOW, holder="b", batch=50),
    )
    assert a.sent + b.sent == 24
    # Draining in small batches, interleaved.
    _add(engine, 24, prefix="n")
    a, b = await asyncio.gather(_drain(engine, smtp.mailer(), "a", 5), _drain(engine, smtp.mailer(), "b", 5))
    assert a.sent + b.sent == 24 and a.retried + b.retried + a.dead + b.dead == 0
    counts = Counter(smtp.handler.message_ids())
    assert len(counts) == 48 and set(counts.values()) == {1}
    assert _statuses(engine) == Counter({"sent": 48})


def test_deliverers_in_threads_send_each_message_once(engine: Engine, smtp: Smtp) -> None:
    _add(engine, 30)
    barrier = threading.Barrier(3)
    results: dict[str, DeliveryStats] = {}
    errors: list[BaseException] = []

    def run(holder: str) -> None:
        try:
            barrier.wait(timeout=10)
            # a generous timeout: on a loaded machine the in-process server can answer after the default 5 s, and
            # the message would then wait out its back-off (retried, not lost) — this test is about the claims
            results[holder] = asyncio.run(_drain(engine, smtp.mailer(timeout=60), holder, 4))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"thread-{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert sum(r.sent for r in results.values()) == 30
    counts = Counter(smtp.handler.message_ids())
    assert len(counts) == 30 and set(counts.values()) == {1}
    assert _statuses(engine) == Counter({"sent": 30})


# --- delivery rules, with the in-memory mailer ------------------------------------------------------------


async def test_backoff_schedule_and_giving_up_after_ten_attempts(engine: Engine) -> None:
    assert [backoff(n) for n in range(1, 8)] == [
        dt.timedelta(seconds=30),
        dt.timedelta(minutes=2),
        dt.timedelta(minutes=10),
        dt.timedelta(minutes=30),
        dt.timedelta(hours=2),
        dt.timedelta(hours=6),
        dt.timedelta(hours=6),
    ]
    with pytest.raises(ValueError):
        backoff(0)
    (outbox_id,) = _add(engine, 1)
    mailer = MemoryMailer()
    mailer.fail_next(100, TemporaryFailure("421 4.7.0 Try again later", code=421))
    now = NOW
    for attempt in range(1, 10):
        assert await deliver_pending(engine, mailer, now, holder="w") == DeliveryStats(retried=1)
        row = _row(engine, outbox_id)
        assert (row.status, row.attempts, row.last_error) == ("pending", attempt, "421 4.7.0 Try again later")
        assert row.next_attempt_at == now + backoff(attempt)
        now = row.next_attempt_at
    assert await deliver_pending(engine, mailer, now, holder="w") == DeliveryStats(dead=1)
    row = _row(engine, outbox_id)
    assert (row.status, row.attempts) == ("dead", 10)
    assert row.last_error == "gave up after 10 attempts: 421 4.7.0 Try again later"
    assert mailer.sent == [] and mailer.attempts == 10


async def test_an_unexpected_transport_error_is_retried(engine: Engine) -> None:
    (outbox_id,) = _add(engine, 1)
    mailer = MemoryMailer()
    mailer.fail_next(1, RuntimeError("boom"))
    assert await deliver_pending(engine, mailer, NOW, holder="w") == DeliveryStats(retried=1)
    assert _row(engine, outbox_id).last_error == "RuntimeError: boom"
    assert await deliver_pending(engine, mailer, NOW + dt.timedelta(minutes=1), holder="w") == DeliveryStats(sent=1)


async def test_an_unusable_address_is_dead_at_once(engine: Engine) -> None:
    (outbox_id,) = _add(engine, 1, to="not an address")
    mailer = MemoryMailer()
    assert await deliver_pending(engine, mailer, NOW, holder="w") == DeliveryStats(dead=1)
    row = _row(engine, outbox_id)
    assert row.status == "dead" and row.last_error and row.last_error.startswith("cannot build the message")
    assert mailer.attempts == 0


async def test_a_deliverer_that_lost_its_lease_does_not_overwrite(engine: Engine) -> None:
    (outbox_id,) = _add(engine, 1)
    inner = MemoryMailer()
    reclaimed: list[DeliveryStats] = []

    class StallingMailer:
        async def send(self, message: EmailMessage) -> None:
            # While we stall past our lease, another deliverer reclaims the row and sends it.
            reclaimed.append(await deliver_pending(engine, inner, NOW + dt.timedelta(minutes=5), holder="b"))
            await inner.send(message)

    stats = await deliver_pending(engine, StallingMailer(), NOW, holder="a", lease_seconds=120)
    assert reclaimed == [DeliveryStats(sent=1)]
    assert stats == DeliveryStats(skipped=1)
    row = _row(engine, outbox_id)
    assert (row.status, row.attempts, row.sent_at) == ("sent", 1, NOW + dt.timedelta(minutes=5))
    # The stall is the one case of a duplicate; both copies carry the same Message-ID.
    assert inner.message_ids() == [message_id_for("m:0")] * 2


async def test_a_slow_batch_releases_what_it_has_not_sent(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _add(engine, 3)
    elapsed = [0.0]
    monkeypatch.setattr(delivery, "_monotonic", lambda: elapsed[0])
    inner = MemoryMailer()

    class SlowMailer:
        async def send(self, message: EmailMessage) -> None:
            await inner.send(message)
            elapsed[0] += 61  # more than half of a 120 s lease

    assert await deliver_pending(engine, SlowMailer(), NOW, holder="w", lease_seconds=120) == DeliveryStats(
        sent=1, skipped=2
    )
    assert [(_row(engine, i).status, _row(engine, i).attempts, _row(engine, i).lease_until) for i in ids] == [
        ("sent", 1, None),
        ("pending", 0, None),
        ("pending", 0, None),
    ]
    assert await deliver_pending(engine, inner, NOW, holder="w") == DeliveryStats(sent=2)
    assert len(inner.sent) == 3


async def test_deliver_pending_validates_its_arguments(engine: Engine) -> None:
    with pytest.raises(ValueError, match="aware"):
        await deliver_pending(engine, MemoryMailer(), dt.datetime(2027, 3, 20), holder="w")
    with pytest.raises(ValueError):
        await deliver_pending(engine, MemoryMailer(), NOW, holder="w", batch=0)


def test_outbox_summary_counts_every_status(engine: Engine) -> None:
    with Session(engine) as s:
        assert outbox_summary(s) == {"pending": 0, "sending": 0, "sent": 0, "dead": 0}
    _add(engine, 2, prefix="p")
    _add(engine, 1, prefix="s", status="sent", attempts=1, sent_at=NOW)
    _add(engine, 3, prefix="d", status="dead", attempts=1)
    with Session(engine) as s:
        assert outbox_summary(s) == {"pending": 2, "sending": 0, "sent": 1, "dead": 3}


# --- SmtpMailer and error mapping ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "reply", "kind", "code"),
    [
        ("rcpt", "451 4.3.0 Try again later", TemporaryFailure, 451),
        ("rcpt", "550 5.1.1 No such user", PermanentFailure, 550),
        ("mail", "553 5.7.1 Sender not allowed", PermanentFailure, 553),
        ("mail", "421 4.3.2 Service shutting down", TemporaryFailure, 421),
        ("data", "554 5.6.0 Message rejected as spam", PermanentFailure, 554),
        ("data", "452 4.3.1 Insufficient system storage", TemporaryFailure, 452),
    ],
)
async def test_smtp_replies_map_to_failures(
    smtp: Smtp, where: str, reply: str, kind: type[Exception], code: int
) -> None:
    if where == "rcpt":
        smtp.handler.rcpt_replies["wang@example.cn"] = reply
    elif where == "mail":
        smtp.handler.mail_reply = reply
    else:
        smtp.handler.data_reply = reply
    with pytest.raises(kind) as info:
        await smtp.mailer().send(build_email(_message(), "清溪县委组织部", "duban@example.cn"))
    assert isinstance(info.value, TemporaryFailure | PermanentFailure)
    assert info.value.code == code and str(code) in str(info.value)
    assert reply.split(" ", 2)[2] in str(info.value)
    assert smtp.handler.received == []


async def test_smtp_mailer_sends_and_a_closed_port_is_temporary(smtp: Smtp) -> None:
    await smtp.mailer().send(build_email(_message(), "清溪县委组织部", "duban@example.cn"))
    assert smtp.handler.received[0].rcpt_tos == ["wang@example.cn"]
    smtp.stop()
    with pytest.raises(TemporaryFailure):
        await smtp.mailer().send(build_email(_message(), "清溪县委组织部", "duban@example.cn"))
    with pytest.raises(ValueError):
        SmtpMailer("127.0.0.1", 465, use_tls=True, start_tls=True)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (
            SMTPRecipientsRefused(
                [SMTPRecipientRefused(550, "no", "a@b.cn"), SMTPRecipientRefused(551, "no", "c@d.cn")]
            ),
            PermanentFailure,
        ),
        (
            SMTPRecipientsRefused(
                [SMTPRecipientRefused(550, "no", "a@b.cn"), SMTPRecipientRefused(450, "busy", "c@d.cn")]
            ),
            TemporaryFailure,
        ),
        (SMTPSenderRefused(550, "sender refused", "x@y.cn"), PermanentFailure),
        (SMTPSenderRefused(451, "later", "x@y.cn"), TemporaryFailure),
        (SMTPSenderRefused(530, "5.7.0 Authentication required", "x@y.cn"), TemporaryFailure),
        (SMTPAuthenticationError(535, "bad credentials"), TemporaryFailure),
        (SMTPConnectError("Error connecting to 127.0.0.1 on port 25"), TemporaryFailure),
        (SMTPServerDisconnected("Connection lost"), TemporaryFailure),
        (SMTPReadTimeoutError("Timed out waiting for server response"), TemporaryFailure),
        (ConnectionResetError(104, "Connection reset by peer"), TemporaryFailure),
        (OSError(113, "No route to host"), TemporaryFailure),
    ],
)
def test_classify_smtp_error(exc: BaseException, kind: type[Exception]) -> None:
    failure = classify_smtp_error(exc)
    assert type(failure) is kind and failure.reason


# --- the MIME message ------------------------------------------------------------------------------------


def test_build_email_encodes_chinese_headers_and_both_alternatives() -> None:
    long_subject = SUBJECT + "：" + "关于进一步加强软弱涣散村党组织整顿工作的通知" * 3
    message = build_email(_message(subject=long_subject), "清溪县委组织部", "duban@example.cn")
    raw = message.as_bytes()
    raw.decode("ascii")  # every header and body line is 7-bit: encoded words and base64/quoted-printable
    assert b"=?utf-8?" in raw
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Subject"] == long_subject
    assert parsed["From"].addresses[0].display_name == "清溪县委组织部"
    assert parsed["From"].addresses[0].addr_spec == "duban@example.cn"
    assert parsed["To"].addresses[0].addr_spec == "wang@example.cn"
    assert parsed["Message-ID"] == message_id_for("k")
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert email.utils.parsedate_to_datetime(parsed["Date"]) == NOW
    assert "+0800" in parsed["Date"]
    parts = list(parsed.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert parts[0].get_content().replace("\r\n", "\n") == TEXT
    assert "2027年3月20日" in parts[1].get_content()


def test_build_email_refuses_what_cannot_be_sent() -> None:
    for address in ("", "  ", "not an address"):
        with pytest.raises(Exception):  # noqa: B017 — ValueError or an email header defect (a ValueError too)
            build_email(_message(to_addr=address), "清溪县委组织部", "duban@example.cn")
    naive = _message()
    naive.created_at = dt.datetime(2027, 3, 20, 9, 30)
    with pytest.raises(ValueError, match="aware"):
        build_email(naive, "清溪县委组织部", "duban@example.cn")


# --- MemoryMailer -------------------------------------------------------------------------------------------


async def test_memory_mailer_keeps_messages() -> None:
    mailer = MemoryMailer()
    message = build_email(_message(), "清溪县委组织部", "duban@example.cn")
    await mailer.send(message)
    assert mailer.sent == [message] and mailer.message_ids() == [message_id_for("k")] and mailer.attempts == 1


async def test_memory_mailer_fails_the_next_n_sends() -> None:
    mailer = MemoryMailer()
    message = build_email(_message(), "清溪县委组织部", "duban@example.cn")
    mailer.fail_next(2)
    mailer.fail_next(1, PermanentFailure("550 5.1.1 No such user", code=550))
    assert mailer.pending_failures == 3
    for kind in (TemporaryFailure, TemporaryFailure, PermanentFailure):
        with pytest.raises(kind):
            await mailer.send(message)
    await mailer.send(message)
    assert mailer.sent == [message] and mailer.attempts == 4 and mailer.pending_failures == 0
    mailer.fail_next(1, lambda m: TemporaryFailure(f"no room for {m['To']}"))
    with pytest.raises(TemporaryFailure, match="wang@example.cn"):
        await mailer.send(message)
    with pytest.raises(ValueError):
        mailer.fail_next(-1)


# --- the three reminder templates ---------------------------------------------------------------------------

DAY = dt.date(2027, 3, 20)
ZH_DAY = "2027年3月20日"
LINK = "http://duban.test/obligations/7"
NEW_TEMPLATES: dict[str, dict[str, Any]] = {
    "obligation_opened": {
        "recipient_name": "张三",
        "title": "一季度整顿工作报告",
        "township": "青石镇",
        "subject_unit": "青石村",
        "period": "2027年第一季度",
        "due_date": DAY,
        "sections": ["基本情况", "取得成效", "存在问题"],
        "link": LINK,
    },
    "reminder": {
        "recipient_name": "张三",
        "title": "一季度整顿工作报告",
        "township": "青石镇",
        "subject_unit": "青石村",
        "due_date": DAY,
        "days_left": 3,
        "missing": ["取得成效", "尚未提交"],
        "link": LINK,
    },
    "daily_digest": {
        "recipient_name": "张三",
        "digest_date": DAY,
        "items": [
            {"title": "一季度整顿工作报告", "subject_unit": "青石村", "due_date": DAY, "days_left": 0, "link": LINK},
            {
                "title": "驻村工作队<名单>",
                "subject_unit": "柳河村",
                "due_date": dt.date(2027, 3, 25),
                "days_left": 3,
                "link": LINK + "?b=1&c=2",
            },
        ],
    },
}


@pytest.mark.parametrize("name", sorted(NEW_TEMPLATES))
def test_new_templates_render(name: str) -> None:
    assert name in MAIL_TEMPLATES
    mail = render_mail(name, NEW_TEMPLATES[name])
    assert mail.subject.strip() and "\n" not in mail.subject
    for body in (mail.text, mail.html):
        assert ZH_DAY in body and "张三" in body and LINK in body
        assert get_settings().organisation_name in body
    assert mail.html.lstrip().startswith("<!DOCTYPE html>")


def test_obligation_opened_lists_the_sections() -> None:
    mail = render_mail("obligation_opened", NEW_TEMPLATES["obligation_opened"])
    assert "青石镇" in mail.subject and "2027年第一季度" in mail.subject
    for section in ("基本情况", "取得成效", "存在问题"):
        assert section in mail.text and f"<li>{section}</li>" in mail.html
    assert "1. 基本情况" in mail.text
    bare = render_mail("obligation_opened", {**NEW_TEMPLATES["obligation_opened"], "due_date": None, "sections": []})
    assert "未设定" in bare.text and "None" not in bare.text + bare.html and "<ol" not in bare.html


@pytest.mark.parametrize(
    ("days_left", "in_subject", "in_body"),
    [(0, "今日截止", "今天（2027年3月20日）截止"), (3, "还剩3天", "距截止还有3天"), (-2, "已逾期2天", "逾期2天")],
)
def test_reminder_says_how_much_time_is_left(days_left: int, in_subject: str, in_body: str) -> None:
    mail = render_mail("reminder", {**NEW_TEMPLATES["reminder"], "days_left": days_left})
    assert in_subject in mail.subject
    assert in_body in mail.text and in_body in re.sub(r"<[^>]+>", "", mail.html)
    assert "取得成效" in mail.text and "<li>尚未提交</li>" in mail.html


def test_daily_digest_lists_every_item() -> None:
    mail = render_mail("daily_digest", NEW_TEMPLATES["daily_digest"])
    assert ZH_DAY in mail.subject and "2项" in mail.subject
    assert "1. 一季度整顿工作报告（青石村）" in mail.text and "2. 驻村工作队<名单>（柳河村）" in mail.text
    assert "今天截止" in mail.text and "还剩3天" in mail.text and "2027年3月25日" in mail.text
    assert "驻村工作队&lt;名单&gt;" in mail.html and 'href="http://duban.test/obligations/7?b=1&amp;c=2"' in mail.html
    empty = render_mail("daily_digest", {**NEW_TEMPLATES["daily_digest"], "items": []})
    assert "没有需要报送的材料" in empty.text and empty.subject


@pytest.mark.parametrize(("name", "missing"), [(n, k) for n in sorted(NEW_TEMPLATES) for k in NEW_TEMPLATES[n]])
def test_new_templates_refuse_a_missing_variable(name: str, missing: str) -> None:
    from jinja2 import UndefinedError

    with pytest.raises(UndefinedError):
        render_mail(name, {k: v for k, v in NEW_TEMPLATES[name].items() if k != missing})
