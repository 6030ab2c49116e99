"""Mail transport: turn an outbox row into a MIME message and hand it to an SMTP server.

A :class:`Mailer` either returns (the server answered 250 to the message) or raises one of two
exceptions that tell the delivery worker what to do next:

* :class:`TemporaryFailure` — try again later: 4xx replies, timeouts, refused or dropped connections,
  and problems of the session itself (EHLO, STARTTLS, AUTH) which say nothing about the message;
* :class:`PermanentFailure` — give up on this message: 5xx replies to MAIL FROM, RCPT TO or DATA.

:class:`SmtpMailer` talks to a real server through aiosmtplib (one connection per message);
:class:`MemoryMailer` keeps messages in a list and can be told to fail, for tests.
"""

from __future__ import annotations

import email.policy
import email.utils
import logging
from collections.abc import Callable
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
from aiosmtplib import (
    SMTPAuthenticationError,
    SMTPConnectError,
    SMTPException,
    SMTPHeloError,
    SMTPNotSupported,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)

from core.clock import CHINA_TZ
from models.review import OutboxMessage

log = logging.getLogger(__name__)

_REASON_MAX = 500
# Replies about authentication (RFC 4954): a configuration problem shared by every message, so a
# message is not declared dead because of them.
_AUTH_CODES = frozenset({530, 534, 535, 538})


class DeliveryFailure(Exception):
    """A message could not be handed over; ``code`` is the SMTP reply code when there was one."""

    def __init__(self, reason: str, *, code: int | None = None) -> None:
        reason = " ".join(reason.split())[:_REASON_MAX]
        super().__init__(reason)
        self.reason = reason
        self.code = code


class TemporaryFailure(DeliveryFailure):
    """Try again later (4xx, timeout, connection refused or reset, session set-up failed)."""


class PermanentFailure(DeliveryFailure):
    """The server refused this message for good (5xx)."""


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Hand ``message`` over; raise :class:`TemporaryFailure` or :class:`PermanentFailure`."""
        ...


def _reply(code: int, message: str) -> str:
    return f"{code} {message}".strip()


def classify_smtp_error(exc: BaseException) -> DeliveryFailure:
    """Map an aiosmtplib (or socket) error to :class:`TemporaryFailure` or :class:`PermanentFailure`."""
    if isinstance(exc, SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        reason = "; ".join(f"{r.recipient}: {_reply(r.code, r.message)}" for r in exc.recipients)
        first = codes[0] if codes else None
        if codes and all(500 <= c < 600 for c in codes):
            return PermanentFailure(f"recipient refused: {reason}", code=first)
        return TemporaryFailure(f"recipient refused: {reason}", code=first)
    if isinstance(exc, SMTPAuthenticationError | SMTPHeloError):
        what = "authentication failed" if isinstance(exc, SMTPAuthenticationError) else "EHLO refused"
        return TemporaryFailure(f"{what}: {_reply(exc.code, exc.message)}", code=exc.code)
    if isinstance(exc, SMTPResponseException) and not isinstance(exc, SMTPConnectError):
        text = _reply(exc.code, exc.message)
        if 500 <= exc.code < 600 and exc.code not in _AUTH_CODES:
            return PermanentFailure(text, code=exc.code)
        return TemporaryFailure(text, code=exc.code)
    if isinstance(exc, SMTPTimeoutError | TimeoutError):
        return TemporaryFailure(f"timeout: {exc}")
    if isinstance(exc, SMTPConnectError):
        code = exc.code if isinstance(exc, SMTPResponseException) else None
        return TemporaryFailure(f"cannot connect: {exc}", code=code)
    if isinstance(exc, SMTPServerDisconnected):
        return TemporaryFailure(f"server disconnected: {exc}")
    if isinstance(exc, OSError):
        return TemporaryFailure(f"connection error: {exc}")
    if isinstance(exc, SMTPNotSupported):
        return TemporaryFailure(f"not supported by the server: {exc}")
    if isinstance(exc, SMTPException):
        return TemporaryFailure(f"SMTP error: {exc}")
    return TemporaryFailure(f"{type(exc).__name__}: {exc}")


class SmtpMailer:
    """Sends each message over its own SMTP connection (aiosmtplib).

    ``use_tls`` is implicit TLS (SMTPS, usually port 465); ``start_tls=True`` upgrades a plain
    connection with STARTTLS (usually 587) and fails if the server does not offer it; ``None`` means
    STARTTLS when offered; ``False`` (the default) never.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        use_tls: bool = False,
        start_tls: bool | None = False,
        timeout: float = 10,
    ) -> None:
        if use_tls and start_tls:
            raise ValueError("use_tls (implicit TLS) and start_tls are mutually exclusive")
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.use_tls = use_tls
        self.start_tls = start_tls
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"SmtpMailer({self.host!r}, {self.port})"

    async def send(self, message: EmailMessage) -> None:
        try:
            errors, _reply_text = await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.use_tls,
                start_tls=self.start_tls,
                timeout=self.timeout,
            )
        except DeliveryFailure:
            raise
        except Exception as exc:
            raise classify_smtp_error(exc) from exc
        if errors:  # some (not all) recipients refused: the message went to the others
            log.warning("message %s: some recipients refused: %s", message.get("Message-ID"), errors)


class MemoryMailer:
    """Keeps sent messages in :attr:`sent`; :meth:`fail_next` makes the next sends raise."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.attempts = 0
        self._failures: list[BaseException | Callable[[EmailMessage], BaseException]] = []

    def fail_next(
        self, count: int = 1, exc: BaseException | Callable[[EmailMessage], BaseException] | None = None
    ) -> None:
        """The next ``count`` sends raise ``exc`` (an exception, or a callable making one from the
        message); by default a :class:`TemporaryFailure`."""
        if count < 0:
            raise ValueError("count must not be negative")
        failure = exc if exc is not None else TemporaryFailure("451 4.3.0 simulated temporary failure", code=451)
        self._failures.extend([failure] * count)

    @property
    def pending_failures(self) -> int:
        return len(self._failures)

    async def send(self, message: EmailMessage) -> None:
        self.attempts += 1
        if self._failures:
            failure = self._failures.pop(0)
            raise failure if isinstance(failure, BaseException) else failure(message)
        self.sent.append(message)

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.sent]


def build_email(msg: OutboxMessage, sender_name: str, sender_addr: str,
                attachments: list[tuple[str, bytes]] | None = None) -> EmailMessage:
    """The MIME message of an outbox row: multipart/alternative (text, then HTML), UTF-8.

    Non-ASCII header text (subject, sender name) is RFC 2047-encoded by ``email.policy.SMTP`` and the
    bodies are base64, so the whole message is 7-bit; the
    Message-ID is the row's stable one so a receiver can drop a duplicate, and Date is when the row
    was written, in China time. Raises ``ValueError`` for an unusable address.
    """
    if msg.created_at.tzinfo is None:
        raise ValueError("OutboxMessage.created_at must be aware")
    to_addr = msg.to_addr.strip()
    if not to_addr:
        raise ValueError("the message has no recipient address")
    message = EmailMessage(policy=email.policy.SMTP)
    message["Subject"] = msg.subject
    message["From"] = Address(display_name=sender_name, addr_spec=sender_addr)
    message["To"] = Address(addr_spec=to_addr)
    message["Date"] = email.utils.format_datetime(msg.created_at.astimezone(CHINA_TZ))
    message["Message-ID"] = msg.message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
    # base64 bodies are 7-bit clean, so no relay on the way needs 8BITMIME
    message.set_content(msg.body_text, subtype="plain", charset="utf-8", cte="base64")
    message.add_alternative(msg.body_html, subtype="html", charset="utf-8", cte="base64")
    for filename, content in attachments or []:  # official documents as PDF (RFC 2231 file names)
        message.add_attachment(content, maintype="application", subtype="pdf", filename=filename)
    return message
