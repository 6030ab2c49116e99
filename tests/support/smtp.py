"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1, a free port), and a handler that records what it
accepts. Tests that need a server to misbehave subclass the handler (or bring their own handler and
controller class); the server is the same."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Generic, TypeVar

from aiosmtpd.controller import Controller

from core.clock import CHINA_TZ
from core.net import free_port
from notifications.mailer import SmtpMailer

ACCEPTED = "250 2.0.0 Message accepted for delivery"
HOST = "127.0.0.1"


def parse(envelope: Any) -> EmailMessage:
    """The message of an aiosmtpd envelope, headers decoded (RFC 2047 words included)."""
    message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


@dataclass
class Received:
    """One accepted message: its envelope, the message, and the virtual time of the delivery that sent it."""

    mail_from: str | None
    rcpt_tos: list[str]
    message: EmailMessage
    virtual_now: dt.datetime | None = None

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def day(self) -> dt.date:
        """The day (China time) of the delivery that sent it."""
        assert self.virtual_now is not None
        return self.virtual_now.astimezone(CHINA_TZ).date()


@dataclass
class RecordingHandler:
    """An aiosmtpd handler that accepts every message and records it, with ``virtual_now`` (set by the test
    before a delivery) as the moment it arrived."""

    received: list[Received] = field(default_factory=list)
    virtual_now: dt.datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    _taken: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook
        self.record(envelope)
        return ACCEPTED

    def record(self, envelope: Any) -> EmailMessage:
        """Keep the envelope's message (from here on the server has it)."""
        message = parse(envelope)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message, self.virtual_now))
        return message

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def message_ids(self) -> list[str]:
        """The Message-ID of every accepted message, in arrival order (a message sent twice counts twice)."""
        with self.lock:
            return [r.message_id for r in self.received]

    def take(self) -> Counter[str]:
        """The Message-IDs accepted since the last ``take``."""
        with self.lock:
            new, self._taken = self.received[self._taken:], len(self.received)
        return Counter(r.message_id for r in new)


H = TypeVar("H")


class SmtpServer(Generic[H]):
    """aiosmtpd serving ``handler`` on a free port of 127.0.0.1; it can be stopped and started again on the
    same port (an outage). ``options`` go to the controller (e.g. an authenticator)."""

    def __init__(self, handler: H, *, controller: type[Controller] = Controller, **options: Any) -> None:
        self.handler = handler
        self.port = free_port()
        self._controller_class = controller
        self._options = options
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = self._controller_class(self.handler, hostname=HOST, port=self.port, **self._options)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def mailer(self, timeout: float = 5) -> SmtpMailer:
        """duban's SMTP mailer, pointed at this server."""
        return SmtpMailer(HOST, self.port, timeout=timeout)


@contextmanager
def smtp_server(handler: H, *, controller: type[Controller] = Controller, **options: Any) -> Iterator[SmtpServer[H]]:
    """A started ``SmtpServer`` for the block."""
    server = SmtpServer(handler, controller=controller, **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
