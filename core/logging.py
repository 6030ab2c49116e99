"""Logs as JSON lines (python-json-logger) or plain text on a terminal, each record carrying the request it
belongs to: ``request_id``, ``user``, ``township``, ``route``.

The request middleware (``api.observability``) opens a context per request and the authentication
dependency names the user in it; records logged outside a request carry none of these fields. What is logged
is unchanged by the format: no passwords, tokens, cookies or database URLs with passwords (see
tests/api/test_no_secrets_in_logs.py).
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import Any, Literal

from pythonjsonlogger.json import JsonFormatter

FIELDS = ("request_id", "user", "township", "route")

_request: ContextVar[dict[str, str] | None] = ContextVar("duban_request", default=None)


def open_request(request_id: str) -> dict[str, str]:
    """Start a request's log context (a dict shared with the threads the request's work runs in)."""
    context = {"request_id": request_id}
    _request.set(context)
    return context


def bind(**fields: str | None) -> None:
    """Add fields to the current request's log context (no request: nothing)."""
    context = _request.get()
    if context is not None:
        context.update({k: v for k, v in fields.items() if v is not None})


class RequestContext(logging.Filter):
    """Copies the current request's fields onto every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_request.get() or {}).items():
            setattr(record, key, value)
        return True


TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def formatter(kind: Literal["json", "text"]) -> logging.Formatter:
    if kind == "text":
        return logging.Formatter(TEXT_FORMAT)
    return JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                         rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                         json_ensure_ascii=False)


def resolve(kind: Literal["auto", "json", "text"], stream: Any = None) -> Literal["json", "text"]:
    """``auto``: plain text when the logs go to a terminal, JSON lines otherwise (a journal, a file)."""
    if kind != "auto":
        return kind
    isatty = getattr(stream or sys.stderr, "isatty", None)
    return "text" if callable(isatty) and isatty() else "json"


def log_config(kind: Literal["auto", "json", "text"], level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` (also uvicorn's ``log_config``): one handler on stderr for duban, uvicorn
    and Prefect, in the chosen format, with the request fields. uvicorn's access log is replaced by
    ``duban.access`` (the route template, never the query string)."""
    chosen = resolve(kind)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": RequestContext}},
        "formatters": {"main": {"()": formatter, "kind": chosen}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                "formatter": "main", "filters": ["request"]}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
