"""Local SMTP servers (aiosmtpd): the development sink that keeps every message as an .eml file, and a loopback
server with a handler of one's own (the simulation's recorder, the delivery tests' faulty servers)."""

from __future__ import annotations

import mailbox
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

from core.net import free_port
from notifications.mailer import SmtpMailer

H = TypeVar("H")


def start_sink(host: str, port: int, directory: Path) -> Any:
    """Start the sink in a background thread; call ``.stop()`` on the result to end it."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    mailbox.Maildir(directory, create=True)  # makes new/ cur/ tmp/ even if the folder exists already
    controller = Controller(Mailbox(directory), hostname=host, port=port)
    controller.start()
    return controller


class LoopbackSmtp(Generic[H]):
    """``handler`` served on a free loopback port; ``stop()`` and ``start()`` again on the same port make an outage.
    As a context manager it runs for the block."""

    def __init__(self, handler: H) -> None:
        self.handler = handler
        self.port = free_port()
        self._controller: Controller | None = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def mailer(self, timeout: float = 5) -> SmtpMailer:
        """A mailer that delivers to this server."""
        return SmtpMailer("127.0.0.1", self.port, timeout=timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
