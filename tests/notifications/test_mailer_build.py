"""``build_email``'s quick path (headers written pre-encoded) against the generic ``email.policy`` build.

Whatever path a message takes, a receiver parsing it must see the same headers, the same parts and
the same bodies, in 7-bit; addresses the quick path cannot vouch for go the generic way or are refused.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from email.message import EmailMessage

import pytest

from core.clock import CHINA_TZ
from models import OutboxMessage
from notifications.mailer import build_email, build_email_generic
from notifications.outbox import message_id_for

NOW = dt.datetime(2027, 3, 20, 9, 30, tzinfo=CHINA_TZ)
SUBJECTS = [
    "【退回修改】青石村2027年一季度整顿工作报告（第2轮）",
    "【催报提醒】" + "关于进一步加强软弱涣散村党组织整顿工作的通知" * 4,
    "Quarterly report: due 2027-03-20",
    "Weekly report — 第12周 (ASCII and 中文 mixed), a long one that goes past the line limit of seventy-eight",
]
BODIES = [
    ("张三，您好：\n\n您报送的材料于2027年3月20日被退回修改。\n", "<p>张三，您好：</p>\n<p>退回修改。</p>\n"),
    ("no newline at the end", "<p>x</p>"),
    ("crlf\r\nline two\r\n\r\n", ""),
    ("长" * 500, "<div>" + "很长的一行" * 300 + "</div>"),
]
SENDERS = [("清溪县委组织部", "duban@example.cn"), ('Org, "Inc."', "noreply@duban.local"), ("", "a@b.cn")]


def _row(subject: str, text: str, html: str, to: str = "wang@example.cn") -> OutboxMessage:
    return OutboxMessage(id=1, key="k", message_id=message_id_for("k"), to_addr=to, subject=subject, body_text=text,
                         body_html=html, created_at=NOW)


def _received(message: EmailMessage) -> EmailMessage:
    raw = message.as_bytes()
    raw.decode("ascii")  # 7-bit throughout
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _seen(message: EmailMessage) -> tuple[object, ...]:
    got = _received(message)
    headers = tuple(str(got[h]) for h in ("Subject", "From", "To", "Date", "Message-ID", "Auto-Submitted", "MIME-Version"))
    parts = tuple((p.get_content_type(), p.get_content_charset(), p["Content-Transfer-Encoding"], p.get_content())
                  for p in got.iter_parts())
    return got.get_content_type(), headers, parts


@pytest.mark.parametrize("subject", SUBJECTS)
@pytest.mark.parametrize(("text", "html"), BODIES)
@pytest.mark.parametrize(("name", "addr"), SENDERS)
def test_the_quick_build_reads_like_the_generic_one(subject: str, text: str, html: str, name: str, addr: str) -> None:
    row = _row(subject, text, html)
    assert _seen(build_email(row, name, addr)) == _seen(build_email_generic(row, name, addr))


def test_the_quick_build_is_a_multipart_alternative_of_two_parts() -> None:
    message = build_email(_row(SUBJECTS[0], *BODIES[0]), *SENDERS[0])
    assert isinstance(message, EmailMessage) and message.get_content_type() == "multipart/alternative"
    assert str(message["Subject"]) == SUBJECTS[0]  # decoded when read back, like a policy-built header
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    got = _received(message)
    plain = got.get_body(preferencelist=("plain",))
    assert plain is not None and plain.get_content().replace("\r\n", "\n") == BODIES[0][0]
    assert "+0800" in str(got["Date"]) and got["Message-ID"] == message_id_for("k")


@pytest.mark.parametrize("to", ["", "   ", "not an address", "a@b.cn, c@d.cn", "<a@b.cn>"])
def test_the_quick_build_refuses_what_is_not_one_address(to: str) -> None:
    with pytest.raises(ValueError):  # header defects are ValueErrors too
        build_email(_row(SUBJECTS[0], *BODIES[0], to=to), *SENDERS[0])


def test_attachments_and_non_ascii_addresses_take_the_generic_path() -> None:
    row = _row(SUBJECTS[0], *BODIES[0])
    with_pdf = build_email(row, *SENDERS[0], [("清组督〔2027〕1号 通知.pdf", b"%PDF-1.4 test")])
    assert with_pdf.get_content_type() == "multipart/mixed"
    [pdf] = list(with_pdf.iter_attachments())
    assert pdf.get_content_type() == "application/pdf" and pdf.get_content() == b"%PDF-1.4 test"
    assert pdf.get_filename() == "清组督〔2027〕1号 通知.pdf"
    naive = _row(SUBJECTS[0], *BODIES[0])
    naive.created_at = dt.datetime(2027, 3, 20, 9, 30)
    with pytest.raises(ValueError, match="aware"):
        build_email(naive, *SENDERS[0])
