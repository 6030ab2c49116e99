"""A local SMTP sink (aiosmtpd) that keeps every message as an .eml file, for development."""

from __future__ import annotations

import mailbox
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


def start_sink(host: str, port: int, directory: Path) -> Any:
    """Start the sink in a background thread; call ``.stop()`` on the result to end it."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    mailbox.Maildir(directory, create=True)  # makes new/ cur/ tmp/ even if the folder exists already
    controller = Controller(Mailbox(directory), hostname=host, port=port)
    controller.start()
    return controller
