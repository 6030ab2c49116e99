"""Small network helpers."""

from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now (for local servers: SMTP, API, Prefect)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def database_answers(url: str, timeout: float = 2) -> bool:
    """Whether the server of a database URL accepts TCP connections (a cheap probe: no login, no query)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), timeout=timeout):
            return True
    except OSError:
        return False
