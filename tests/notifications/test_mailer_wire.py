"""``wire_message``: the bytes and envelope of a common message, written without ``email.generator``.

They must be exactly what aiosmtplib's ``send_message`` sends today: ``flatten_message`` under
``email.policy.SMTP`` (``cte_type`` 8bit, or 7bit when the server lacks 8BITMIME), and the sender and
recipients ``extract_sender`` and ``extract_recipients`` read from From and To. Checked over many messages,
then against a real server: the same MAIL FROM (options included), RCPT TO and DATA as ``send_message``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import random
from dataclasses import dataclass, field
from email.message import EmailMessage, MIMEPart
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtplib.email import extract_recipients, extract_sender, flatten_message

from core.clock import CHINA_TZ
from core.net import free_port
from models import OutboxMessage
from notifications.mailer import PreparedEmail, SmtpMailer, build_email, build_email_generic, wire_message
from notifications.outbox import message_id_for

SUBJECTS = [
    "Quarterly report: due 2027-03-20",
    "",
    "【退回修改】青石村2027年一季度整顿工作报告（第2轮）",
    "【催报提醒】" + "关于进一步加强软弱涣散村党组织整顿工作的通知" * 4,
    "A long ASCII subject that goes past the line limit of seventy-eight characters and folds, twice even, "
    "because it keeps going on and on well past a second line of the same length",
    "Averyveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryveryverylongwordwithoutanyspaceatall",
    "Weekly report — 第12周 (ASCII and 中文 mixed), a long one that goes past the line limit of seventy-eight",
    "tab\tand  double  spaces ",
    "=?utf-8?q?looks_encoded?= but is not",
]
BODIES = [
    ("张三，您好：\n\n您报送的材料于2027年3月20日被退回修改。\n", "<p>张三，您好：</p>\n<p>退回修改。</p>\n"),
    ("no newline at the end", "<p>x</p>"),
    ("crlf\r\nline two\r\n\r\n", ""),
    ("", ""),
    ("lone\rcarriage return\n\n\n", "<p>\r\n</p>"),
    ("长" * 500, "<div>" + "很长的一行" * 300 + "</div>"),
    ("From the start of a line\n--boundary-like line\n.\n..\n", "<pre>\n.\n</pre>"),
]
SENDERS = [
    ("清溪县委组织部", "duban@example.cn"),
    ('Org, "Inc."', "noreply@duban.local"),
    ("", "a@b.cn"),
    ("A very long organisation name that by itself goes past the seventy-eight characters of a line",
     "mail@x.org"),
    ("清溪县委组织部督办平台" * 4, "duban@example.cn"),
]
RECIPIENTS = ["wang@example.cn", " padded@example.org ", "first.last+tag@sub.example.com", '"quoted local"@x.cn',
              "UPPER@Example.CN", "x" * 60 + "@" + "y" * 30 + ".example.org"]
DATES = [dt.datetime(2027, 3, 20, 9, 30, tzinfo=CHINA_TZ), dt.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
         dt.datetime(2027, 1, 1, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))]


def _row(n: int, subject: str, text: str, html: str, to: str, created_at: dt.datetime) -> OutboxMessage:
    key = f"reminder:{n}:3:{n % 97}"
    return OutboxMessage(id=n, key=key, message_id=message_id_for(key), to_addr=to, subject=subject, body_text=text,
                         body_html=html, created_at=created_at)


def _cases() -> list[tuple[OutboxMessage, str, str]]:
    """Every subject with every body, and a random draw of recipients, dates and senders for each."""
    draw = random.Random(7)
    cases = []
    for n, (subject, (text, html)) in enumerate(itertools.product(SUBJECTS, BODIES)):
        for k in range(4):
            name, addr = draw.choice(SENDERS)
            cases.append((_row(n * 4 + k, subject, text, html, draw.choice(RECIPIENTS), draw.choice(DATES)), name, addr))
    return cases


def _reference(message: Any, eight_bit: bool) -> tuple[str | None, list[str], bytes]:
    """What ``SMTP.send_message`` takes from the message and sends."""
    return (extract_sender(message), extract_recipients(message),
            flatten_message(message, cte_type="8bit" if eight_bit else "7bit"))


@pytest.mark.parametrize("eight_bit", [True, False])
def test_the_wire_bytes_and_envelope_are_send_messages(eight_bit: bool) -> None:
    cases = _cases()
    assert len(cases) > 200
    for row, name, addr in cases:
        message = build_email(row, name, addr)
        assert isinstance(message, PreparedEmail)
        wire = wire_message(message, eight_bit)
        assert wire is not None
        assert wire == _reference(message, eight_bit), (row.subject, row.body_text, row.to_addr, name)
        assert wire == _reference(message, eight_bit)  # writing them changed nothing in the message


def test_each_message_has_its_own_boundary_message_id_and_date() -> None:
    rows = [_row(n, SUBJECTS[2], *BODIES[0], RECIPIENTS[0], DATES[n % 3]) for n in range(50)]
    wires = [wire_message(build_email(r, *SENDERS[0]), True) for r in rows]
    assert len({w[2] for w in wires if w is not None}) == 50


def test_other_messages_go_the_generic_way() -> None:
    row = _row(1, SUBJECTS[2], *BODIES[0], RECIPIENTS[0], DATES[0])
    assert wire_message(build_email_generic(row, *SENDERS[0]), True) is None
    attached = build_email(row, *SENDERS[0], attachments=[("通知.pdf", b"%PDF-1.4")])
    assert not isinstance(attached, PreparedEmail) and wire_message(attached, True) is None
    unicode_to = build_email(_row(2, SUBJECTS[0], *BODIES[0], "wang@例子.cn", DATES[0]), *SENDERS[0])
    assert wire_message(unicode_to, True) is None


def test_a_message_changed_after_it_was_built_goes_the_generic_way() -> None:
    row = _row(1, SUBJECTS[2], *BODIES[0], RECIPIENTS[0], DATES[0])
    message = build_email(row, *SENDERS[0])
    message["Cc"] = "boss@example.cn"
    assert wire_message(message, True) is None
    message = build_email(row, *SENDERS[0])
    message.replace_header("To", "other@example.cn")
    assert wire_message(message, True) is None
    message = build_email(row, *SENDERS[0])
    part = message.get_payload(1)
    assert isinstance(part, EmailMessage | MIMEPart)
    part.set_payload("changed\n")  # a changed part is written as it now is
    assert wire_message(message, True) == _reference(message, True)


@dataclass
class Transcript:
    """What a server saw of each message: MAIL FROM and its options, RCPT TO, DATA; it offers 8BITMIME or not."""

    eight_bit: bool = True
    seen: list[tuple[str, list[str], list[str], bytes]] = field(default_factory=list)

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,  # noqa: N802 (aiosmtpd's)
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        return [r for r in responses if self.eight_bit or r != "250-8BITMIME"]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's hook)
        self.seen.append((envelope.mail_from, list(envelope.mail_options), list(envelope.rcpt_tos),
                          envelope.original_content))
        return "250 2.0.0 OK"


@pytest.mark.parametrize("eight_bit", [True, False])
async def test_a_session_sends_what_send_message_sends(eight_bit: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    cases = _cases()[::9]
    transcript = Transcript(eight_bit)
    port = free_port()
    controller = Controller(transcript, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with monkeypatch.context() as patch:
            patch.setattr(aiosmtplib.SMTP, "send_message", None)  # the session must not fall back to it
            async with SmtpMailer("127.0.0.1", port).session() as session:
                for row, name, addr in cases:
                    await session.send(build_email(row, name, addr))
        ours = list(transcript.seen)
        transcript.seen.clear()
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as client:
            for row, name, addr in cases:
                await client.send_message(build_email(row, name, addr))
        theirs = list(transcript.seen)
    finally:
        await asyncio.to_thread(controller.stop)
    assert len(ours) == len(cases) > 20
    for (from1, options1, to1, data1), (from2, options2, to2, data2) in zip(ours, theirs, strict=True):
        assert (from1, options1, to1) == (from2, options2, to2)
        assert ("BODY=8BITMIME" in options1) is eight_bit
        # the boundaries are random: each pair is compared with one made the other
        mine, other = (d.split(b'boundary="', 1)[1].split(b'"', 1)[0] for d in (data1, data2))
        assert data1.replace(mine, other) == data2
