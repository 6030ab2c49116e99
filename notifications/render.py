"""Mail templates (zh-CN): each mail is a pair ``NAME.txt`` / ``NAME.html`` under ``templates/``.

The subject is the ``{% block subject %}`` of ``NAME.txt`` (rendered without autoescape, whitespace
collapsed to one line). Both bodies extend a layout (``_layout.txt`` / ``_layout.html``) that greets
``recipient_name`` and signs with the organisation name from settings. The HTML body is autoescaped;
the text body is not. A variable missing from the context raises (``StrictUndefined``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Undefined, select_autoescape

from core.clock import CHINA_TZ
from core.settings import get_settings

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

MAIL_TEMPLATES = (
    "submission_submitted",
    "submission_returned",
    "submission_approved",
    "submission_rejected",
    "returns_exceeded",
    "stage_passed",
    "obligation_opened",
    "reminder",
    "daily_digest",
    "escalation",
    "escalation_trigger",
)


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def zh_date(value: dt.date | dt.datetime) -> str:
    """``2027年3月20日``; an aware datetime is first taken to China time (deadlines are counted there)."""
    if isinstance(value, Undefined):
        return str(value)  # StrictUndefined raises UndefinedError naming the missing variable
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(CHINA_TZ)
        value = value.date()
    if not isinstance(value, dt.date):
        raise TypeError(f"zh_date needs a date or datetime, not {type(value).__name__}")
    return f"{value.year}年{value.month}月{value.day}日"


def _make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters["zh_date"] = zh_date
    return env


environment = _make_environment()


def render_mail(name: str, context: dict[str, Any]) -> RenderedMail:
    """Render the subject and both bodies of mail ``name`` (one of :data:`MAIL_TEMPLATES`).

    ``organisation_name`` and ``base_url`` default from settings; ``mail_subject`` is set to the
    rendered subject for the bodies. Raises ``jinja2.UndefinedError`` when a variable is missing.
    """
    if name not in MAIL_TEMPLATES:
        raise ValueError(f"unknown mail template {name!r}")
    settings = get_settings()
    values: dict[str, Any] = {
        "organisation_name": settings.organisation_name,
        "base_url": settings.effective_base_url.rstrip("/"),
        **context,
    }
    text_template = environment.get_template(f"{name}.txt")
    subject_block = text_template.blocks.get("subject")
    if subject_block is None:
        raise LookupError(f"mail template {name}.txt has no subject block")
    subject = " ".join("".join(subject_block(text_template.new_context(values))).split())
    if not subject:
        raise ValueError(f"mail template {name}.txt rendered an empty subject")
    values["mail_subject"] = subject
    text = text_template.render(values)
    html = environment.get_template(f"{name}.html").render(values)
    return RenderedMail(subject=subject, text=text, html=html)
