"""The simulation's SMTP server: aiosmtpd on a free loopback port, recording what it receives and when (on the
virtual clock). ``stop()`` and ``start()`` again on the same port make an outage."""

from __future__ import annotations

import datetime as dt
import email.policy
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from typing import Any

from notifications.sink import LoopbackSmtp

_HEADERS = BytesHeaderParser(policy=email.policy.default)


@dataclass
class Received:
    to: str
    subject: str
    message_id: str
    at: dt.datetime | None


@dataclass
class RecordingHandler:
    """Keeps one :class:`Received` per recipient of every message, stamped with ``virtual_now``."""

    received: list[Received] = field(default_factory=list)
    virtual_now: dt.datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        # Only the headers are recorded: parsing the body (and its PDF attachments) cost more than the rest of
        # receiving a message.
        parsed = _HEADERS.parsebytes(envelope.original_content, headersonly=True)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append(Received(rcpt, str(parsed["Subject"]), str(parsed["Message-ID"]), self.virtual_now))
        return "250 2.0.0 Message accepted for delivery"


class SmtpServer(LoopbackSmtp[RecordingHandler]):
    """The recorder on a free loopback port; stop() and start() again on the same port for an outage."""

    def __init__(self) -> None:
        super().__init__(RecordingHandler())
