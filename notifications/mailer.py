"""Mail transport: turn an outbox row into a MIME message and hand it to an SMTP server.

A :class:`Mailer` either returns (the server answered 250 to the message) or raises one of two
exceptions that tell the delivery worker what to do next:

* :class:`TemporaryFailure` — try again later: 4xx replies, timeouts, refused or dropped connections,
  and problems of the session itself (EHLO, STARTTLS, AUTH) which say nothing about the message;
* :class:`PermanentFailure` — give up on this message: 5xx replies to MAIL FROM, RCPT TO or DATA.

:class:`SmtpMailer` talks to a real server through aiosmtplib: :meth:`SmtpMailer.send` over a connection
of its own, or many messages over one connection through :meth:`SmtpMailer.session`;
:class:`MemoryMailer` keeps messages in a list and can be told to fail, for tests.
"""

from __future__ import annotations

import binascii
import email.errors
import email.header
import email.policy
import email.utils
import functools
import logging
import re
import secrets
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from types import TracebackType
from typing import Any, Protocol, runtime_checkable

import aiosmtplib
import aiosmtplib.email
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


@runtime_checkable
class SessionMailer(Mailer, Protocol):
    """A :class:`Mailer` that can also send a batch of messages over one connection."""

    def session(self) -> AbstractAsyncContextManager[Mailer]:
        """``async with mailer.session() as sender:`` — ``sender.send`` as :meth:`Mailer.send`."""
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
    """Sends mail through aiosmtplib: :meth:`send` over a connection of its own, :meth:`session` many
    messages over one.

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
        _log_refused(message, errors)

    def session(self) -> SmtpSession:
        """One SMTP connection for many messages: ``async with mailer.session() as sender: await sender.send(m)``."""
        return SmtpSession(self)


def _log_refused(message: EmailMessage, errors: dict[str, aiosmtplib.SMTPResponse]) -> None:
    if errors:  # some (not all) recipients refused: the message went to the others
        log.warning("message %s: some recipients refused: %s", message.get("Message-ID"), errors)


class SmtpSession:
    """Sends messages one after another over one SMTP connection, opened at the first message.

    Each :meth:`send` succeeds or raises exactly as :meth:`SmtpMailer.send` would. A refusal of the
    message (4xx/5xx to MAIL, RCPT or DATA, except 421) leaves the connection open for the next one
    (aiosmtplib sends RSET); a 421 or anything else — a timeout, a dropped or refused connection, a
    failed EHLO, STARTTLS or AUTH — closes it, and the next message opens a new one.

    A connection that has carried a message before may have been closed by the server since (an idle
    timeout, a limit of messages per connection). When the server is found gone on such a connection
    (the connection is closed, or reset or disconnected while sending), the message is tried once more
    at once on a new connection. If the break came after the server had taken the message in and before
    its 250 reached us, the message arrives twice — as it would have after its back-off without the
    retry; the copies share their Message-ID. A timeout is never retried at once.

    Not for concurrent use: one session serves one sequence of sends. :meth:`close` (and leaving the
    ``async with``) says QUIT and ignores any error doing so.
    """

    def __init__(self, mailer: SmtpMailer) -> None:
        self._mailer = mailer
        self._client: aiosmtplib.SMTP | None = None
        self._used = False  # the open connection has carried a message (so the server may have dropped it)
        self.connections = 0  # connections opened (or attempted) so far

    async def __aenter__(self) -> SmtpSession:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.close()

    async def send(self, message: EmailMessage) -> None:
        reused = self._used and self._client is not None and self._client.is_connected
        try:
            await self._send(message)
        except (SMTPServerDisconnected, ConnectionError) as exc:
            if not reused:
                raise classify_smtp_error(exc) from exc
            log.info("SMTP connection to %s:%s lost between messages (%s); reconnecting",
                     self._mailer.host, self._mailer.port, exc)
            try:
                await self._send(message)
            except Exception as again:
                raise classify_smtp_error(again) from again
        except Exception as exc:
            raise classify_smtp_error(exc) from exc

    async def _send(self, message: EmailMessage) -> None:
        client = await self._connected()
        try:
            errors, _reply_text = await _transmit(client, message)
        except (SMTPResponseException, SMTPRecipientsRefused) as exc:
            # 421: the server is closing the channel (RFC 5321 §3.8), at whatever stage it says so
            if not client.is_connected or getattr(exc, "code", None) == 421:
                self._drop()
            else:
                self._used = True
            raise
        except BaseException:
            self._drop()  # a timeout or a broken connection: the stream cannot be trusted any more
            raise
        self._used = True
        _log_refused(message, errors)

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        self._drop()
        m = self._mailer
        client = aiosmtplib.SMTP(hostname=m.host, port=m.port, username=m.username, password=m.password,
                                 use_tls=m.use_tls, start_tls=m.start_tls, timeout=m.timeout)
        self.connections += 1
        try:
            await client.connect()  # EHLO, STARTTLS and AUTH as configured
        except BaseException:
            client.close()
            raise
        self._client, self._used = client, False
        return client

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client, self._used = None, False

    async def close(self) -> None:
        """QUIT and close the connection if one is open; errors on the way out are ignored."""
        client, self._client, self._used = self._client, None, False
        if client is None:
            return
        try:
            if client.is_connected:
                await client.quit()
        except Exception as exc:
            log.debug("SMTP QUIT to %s:%s failed: %s", self._mailer.host, self._mailer.port, exc)
        finally:
            client.close()


async def _transmit(client: aiosmtplib.SMTP, message: EmailMessage) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
    """``client.send_message(message)``, the same commands and bytes; a :class:`PreparedEmail` is written by
    :func:`wire_message` and goes out through ``sendmail``, any other message through ``send_message``."""
    if not isinstance(message, PreparedEmail):
        return await client.send_message(message)
    if client.is_ehlo_or_helo_needed:  # as send_message does before it asks for 8BITMIME
        await client._ehlo_or_helo_if_needed()
    eight_bit = client.supports_extension("8BITMIME")
    wire = wire_message(message, eight_bit)
    if wire is None:
        return await client.send_message(message)
    sender, recipients, data = wire
    return await client.sendmail(sender, recipients, data, mail_options=["BODY=8BITMIME"] if eight_bit else [])


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

    Non-ASCII header text (subject, sender name) is RFC 2047-encoded and the bodies are base64, so
    the whole message is 7-bit; the Message-ID is the row's stable one so a receiver can drop a
    duplicate, and Date is when the row was written, in China time. Official documents are attached
    as PDF (``multipart/mixed``). Raises ``ValueError`` for an unusable address.

    The common case (ASCII addresses, no attachment) writes the headers already encoded
    (``set_raw``) instead of letting ``email.policy`` parse and re-fold each one, which costs
    ≈1 ms a message; anything else goes through :func:`build_email_generic`. Both give the same
    message once parsed. The common case is a :class:`PreparedEmail`, whose bytes an SMTP session
    writes with :func:`wire_message` rather than ``email.generator``.
    """
    if attachments or not _fast_path_applies(msg, sender_name, sender_addr):
        return build_email_generic(msg, sender_name, sender_addr, attachments)
    if msg.created_at.tzinfo is None:
        raise ValueError("OutboxMessage.created_at must be aware")
    to_addr = _recipient(msg.to_addr.strip())
    from_header, envelope_from = _from_header(sender_name, sender_addr)
    boundary = _boundary()
    message = PreparedEmail(policy=_POLICY)
    message.set_raw("Subject", _encoded_text(msg.subject))
    message.set_raw("From", from_header)
    message.set_raw("To", to_addr)
    message.set_raw("Date", email.utils.format_datetime(msg.created_at.astimezone(CHINA_TZ)))
    message.set_raw("Message-ID", msg.message_id)
    message.set_raw("Auto-Submitted", "auto-generated")  # RFC 3834: no auto-replies to this
    message.set_raw("MIME-Version", "1.0")
    message.set_raw("Content-Type", f'multipart/alternative;{_POLICY.linesep} boundary="{boundary}"')
    message.set_payload([_text_part(msg.body_text, "plain"), _text_part(msg.body_html, "html")])
    message.envelope = (envelope_from, to_addr)
    message.boundary = boundary
    message.built = tuple(message.raw_items())
    return message


class PreparedEmail(EmailMessage):
    """A message of :func:`build_email`'s common path: an ordinary :class:`EmailMessage` for whoever reads it,
    which also knows what :func:`wire_message` needs to write its bytes without ``email.generator``.

    ``envelope`` is (sender, recipient) as aiosmtplib's ``extract_sender`` and ``extract_recipients`` read them
    from From and To; ``boundary`` is the one in Content-Type; ``built`` is the headers as built (a message whose
    headers were changed since goes the generic way).
    """

    envelope: tuple[str, str]
    boundary: str
    built: tuple[tuple[str, Any], ...]


_POLICY_7BIT = email.policy.SMTP.clone(cte_type="7bit")
_NLCRE = re.compile(r"\r\n|\r|\n")  # email.generator's line ends


def wire_message(message: EmailMessage, eight_bit: bool) -> tuple[str, list[str], bytes] | None:
    """(sender, recipients, bytes) of a :class:`PreparedEmail` as aiosmtplib's ``send_message`` would send it
    (``flatten_message`` under ``email.policy.SMTP``, with ``cte_type="7bit"`` unless ``eight_bit``: the server
    offers 8BITMIME), written here; ``None`` for any other message, or one changed since it was built.

    The same bytes (``tests/notifications/test_mailer_wire.py`` compares them): each header through the
    policy's ``fold_binary`` as ``BytesGenerator`` writes it, each part's payload with CRLF line ends, and the
    parts between the boundary's delimiters. What it skips is ``email.generator``'s re-reading of
    Content-Type for every part and the parsing of From and To for the envelope (≈1 ms a message).
    """
    if not isinstance(message, PreparedEmail) or tuple(message.raw_items()) != message.built:
        return None
    parts = message.get_payload()
    if not isinstance(parts, list) or not parts or message.preamble is not None or message.epilogue is not None:
        return None
    policy = _POLICY if eight_bit else _POLICY_7BIT
    nl = b"\r\n"
    delimiter = b"--" + message.boundary.encode("ascii")
    chunks = [policy.fold_binary(name, value) for name, value in message.built]
    chunks += [nl, delimiter, nl]
    for index, part in enumerate(parts):
        if not isinstance(part, MIMEPart) or part.is_multipart():
            return None
        payload = getattr(part, "_payload", None)  # what get_payload() returns, without its parse of the CTE header
        if not isinstance(payload, str) or not payload.isascii():
            return None  # email.generator would re-encode what came from bytes (surrogates)
        if index:
            chunks += [nl, delimiter, nl]
        chunks += [policy.fold_binary(name, value) for name, value in part.raw_items()]
        chunks += [nl, "\r\n".join(_NLCRE.split(payload)).encode("ascii")]
    chunks += [nl, delimiter, b"--", nl]
    sender, recipient = message.envelope
    return sender, [recipient], b"".join(chunks)


_POLICY = email.policy.SMTP
_BASE64_CHUNK = 57  # bytes per base64 line: 76 characters, as email.contentmanager writes for 78-character lines


def _fast_path_applies(msg: OutboxMessage, sender_name: str, sender_addr: str) -> bool:
    plain = msg.to_addr.strip() + sender_addr + msg.message_id
    return (plain.isascii() and plain.isprintable() and bool(msg.to_addr.strip())
            and "\n" not in msg.subject and "\r" not in msg.subject and "\n" not in sender_name
            and "\r" not in sender_name)


def _boundary() -> str:
    return f"==============={secrets.randbelow(10**19):019d}=="  # base64 lines never begin with "--"


# The same subjects and recipients come back message after message (a notice goes to every reviewer of a level,
# a person gets mail all year): each is parsed or encoded once.
@functools.lru_cache(maxsize=4096)
def _recipient(to_addr: str) -> str:
    try:
        return Address(addr_spec=to_addr).addr_spec
    except (ValueError, email.errors.HeaderParseError) as exc:
        raise ValueError(f"not one email address: {to_addr!r}") from exc


@functools.lru_cache(maxsize=4096)
def _encoded_text(text: str) -> str:
    if text.isascii():
        return text
    return email.header.Header(text, "utf-8", header_name="Subject").encode(linesep=_POLICY.linesep)


@functools.lru_cache(maxsize=16)
def _from_header(sender_name: str, sender_addr: str) -> tuple[str, str]:
    """The From header, and the envelope sender aiosmtplib's ``extract_sender`` reads from it (once a sender)."""
    header = email.utils.formataddr((sender_name, Address(addr_spec=sender_addr).addr_spec), charset="utf-8")
    probe = EmailMessage(policy=_POLICY)
    probe.set_raw("From", header)
    sender = aiosmtplib.email.extract_sender(probe)
    if sender is None:
        raise ValueError(f"not one email address: {sender_addr!r}")
    return header, sender


def _text_part(body: str, subtype: str) -> MIMEPart:
    # The body with CRLF line ends, base64 in lines of 76 (what set_content(..., cte="base64") writes).
    data = b"\r\n".join(body.encode("utf-8").splitlines()) + b"\r\n"
    payload = "".join(binascii.b2a_base64(data[i:i + _BASE64_CHUNK]).decode("ascii")
                      for i in range(0, len(data), _BASE64_CHUNK))
    part = MIMEPart(policy=_POLICY)
    part.set_raw("Content-Type", f'text/{subtype}; charset="utf-8"')
    part.set_raw("Content-Transfer-Encoding", "base64")
    part.set_payload(payload)
    return part


def build_email_generic(msg: OutboxMessage, sender_name: str, sender_addr: str,
                        attachments: list[tuple[str, bytes]] | None = None) -> EmailMessage:
    """:func:`build_email` through ``email.policy`` header objects and ``set_content``: any address, any attachment."""
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
