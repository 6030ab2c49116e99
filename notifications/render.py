"""Mail templates (zh-CN): each mail is a pair ``NAME.txt`` / ``NAME.html`` under ``templates/``.

The subject is the ``{% block subject %}`` of ``NAME.txt`` (rendered without autoescape, whitespace
collapsed to one line). Both bodies extend a layout (``_layout.txt`` / ``_layout.html``) that greets
``recipient_name`` and signs with the organisation name from settings. The HTML body is autoescaped;
the text body is not. A variable missing from the context raises (``StrictUndefined``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, Undefined, select_autoescape
from markupsafe import escape

from core.settings import get_settings
from domain import vocabulary
from domain.triggers import ESCALATION_MAIL_TEMPLATES

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

MAIL_TEMPLATES = (
    "submission_submitted",
    "submission_returned",
    "submission_approved",
    "submission_rejected",
    "stage_passed",
    "obligation_opened",
    "reminder",
    "daily_digest",
    "desk_notice",  # the 督办 desk: extension requests and decisions, 三色督办单, bulletins (tasks.desk)
    "audit_anchor",  # the audit chain's head, mailed to the administrators (tasks.anchor)
    *ESCALATION_MAIL_TEMPLATES,  # escalation, escalation_trigger, returns_exceeded: as the triggers declare them
)


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def zh_date(value: Any) -> str:
    """:func:`domain.vocabulary.zh_date` as a template filter: a variable missing from the context still raises
    (``StrictUndefined`` names it) instead of printing as empty."""
    if isinstance(value, Undefined):
        return str(value)
    return vocabulary.zh_date(value)


def period_label(value: Any) -> str:
    """:func:`domain.vocabulary.period_label` as a template filter, strict like ``zh_date``."""
    if isinstance(value, Undefined):
        return str(value)
    return vocabulary.period_label(value)


def template_environment(directory: Path, *, keep_trailing_newline: bool = False) -> Environment:
    """Templates of mails or official documents: HTML autoescaped, a missing variable raises, ``zh_date``."""
    env = Environment(
        loader=FileSystemLoader(directory),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=keep_trailing_newline,
        auto_reload=False,
    )
    env.filters["zh_date"] = zh_date
    env.filters["period_label"] = period_label
    return env


environment = template_environment(TEMPLATES_DIR, keep_trailing_newline=True)


def _values(context: dict[str, Any]) -> dict[str, Any]:
    settings = get_settings()
    return {
        "organisation_name": settings.organisation_name,
        "base_url": settings.effective_base_url.rstrip("/"),
        **context,
    }


def _templates(name: str) -> tuple[Template, Template]:
    if name not in MAIL_TEMPLATES:
        raise ValueError(f"unknown mail template {name!r}")
    return environment.get_template(f"{name}.txt"), environment.get_template(f"{name}.html")


def _render(name: str, text_template: Template, html_template: Template, values: dict[str, Any]) -> RenderedMail:
    subject_block = text_template.blocks.get("subject")
    if subject_block is None:
        raise LookupError(f"mail template {name}.txt has no subject block")
    subject = " ".join("".join(subject_block(text_template.new_context(values))).split())
    if not subject:
        raise ValueError(f"mail template {name}.txt rendered an empty subject")
    values["mail_subject"] = subject
    return RenderedMail(subject=subject, text=text_template.render(values), html=html_template.render(values))


def render_mail(name: str, context: dict[str, Any]) -> RenderedMail:
    """Render the subject and both bodies of mail ``name`` (one of :data:`MAIL_TEMPLATES`).

    ``organisation_name`` and ``base_url`` default from settings; ``mail_subject`` is set to the
    rendered subject for the bodies. Raises ``jinja2.UndefinedError`` when a variable is missing.
    """
    text_template, html_template = _templates(name)
    return _render(name, text_template, html_template, _values(context))


# Stand-ins for printed values while one rendering serves several mails: private-use characters, which
# neither autoescaping nor whitespace collapsing touches.
_RECIPIENT = "\ue000recipient_name\ue001"
_MARK = "\ue000"

PRINTED_ONLY: dict[str, tuple[str, ...]] = {
    "reminder": ("title", "township", "subject_unit"),
}
"""Per template, the context variables it only prints or compares for equality with one another (never
filters, tests or slices): mails whose contexts differ only in these (and in ``recipient_name``, which every
layout only prints) share one rendering. ``test_outbox_batch`` renders each listed template both ways."""


def render_mails(name: str, context: dict[str, Any], recipient_names: list[str]) -> list[RenderedMail]:
    """``render_mail(name, {**context, "recipient_name": n})`` for each name, rendering the templates once.

    The templates print ``recipient_name`` (the layouts' greeting) but never branch on it, so the
    name is substituted into one rendering: as it is in the subject and the text, HTML-escaped in
    the HTML body. A single name is rendered directly.
    """
    text_template, html_template = _templates(name)
    if len(recipient_names) == 1:
        return [_render(name, text_template, html_template, _values({**context, "recipient_name": recipient_names[0]}))]
    if not recipient_names:
        return []
    shared = _render(name, text_template, html_template, _values({**context, "recipient_name": _RECIPIENT}))
    return [_fill(shared, {_RECIPIENT: recipient}) for recipient in recipient_names]


def _fill(shared: RenderedMail, values: dict[str, str]) -> RenderedMail:
    subject, text, html = shared.subject, shared.text, shared.html
    for mark, value in values.items():
        subject, text, html = subject.replace(mark, value), text.replace(mark, value), html.replace(mark, str(escape(value)))
    return RenderedMail(subject=" ".join(subject.split()), text=text, html=html)


def _frozen(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return (type(value).__name__, tuple(_frozen(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, _frozen(v)) for k, v in value.items())))
    hash(value)  # anything else must be hashable to share a rendering (TypeError otherwise: rendered alone)
    return (type(value).__name__, value)


def _plain(value: Any) -> bool:
    """A value that can stand in by substitution: a string that whitespace collapsing leaves as it is (the
    subject is collapsed, and the HTML prints the subject) and that holds no stand-in character."""
    return isinstance(value, str) and value == " ".join(value.split()) and _MARK not in value and "\ue001" not in value


def render_batch(name: str, contexts: list[dict[str, Any]]) -> list[RenderedMail]:
    """``[render_mail(name, c) for c in contexts]``, rendering once per group of contexts that differ only in
    the template's :data:`PRINTED_ONLY` variables and ``recipient_name``; those are substituted into the
    group's one rendering (HTML-escaped in the HTML body). Values that are equal get one stand-in, so an
    equality test between them decides as it would on the values. A context whose printed values are not
    plain one-line strings, or whose other values cannot be compared, is rendered on its own."""
    text_template, html_template = _templates(name)
    printed = ("recipient_name", *PRINTED_ONLY.get(name, ()))
    out: list[RenderedMail | None] = [None] * len(contexts)
    groups: dict[Any, list[tuple[int, dict[str, str]]]] = {}
    marks: dict[Any, dict[str, Any]] = {}
    for index, context in enumerate(contexts):
        values = {k: context[k] for k in printed if k in context}
        try:
            if not all(_plain(v) for v in values.values()):
                raise TypeError("not plain")
            rest = _frozen({k: v for k, v in context.items() if k not in values})
        except TypeError:
            out[index] = _render(name, text_template, html_template, _values(context))
            continue
        distinct: dict[str, str] = {}
        for value in values.values():
            distinct.setdefault(value, f"{_MARK}{len(distinct)}\ue001")
        pattern = tuple((k, distinct[v]) for k, v in values.items())  # which printed values are equal
        key = (rest, pattern)
        groups.setdefault(key, []).append((index, {distinct[v]: v for v in values.values()}))
        if key not in marks:
            marks[key] = {**context, **dict(pattern)}
    for key, members in groups.items():
        shared = _render(name, text_template, html_template, _values(marks[key]))
        for index, values in members:
            out[index] = _fill(shared, values)
    return [mail for mail in out if mail is not None]
