"""Channels besides mail: which channels a message kind uses, quiet hours, SMS texts, robot payloads and
signatures, and what a provider's answer means (sent, try again, give up). Pure rules: no I/O, no clock.

The providers' documented answers:

* WeCom group robot (企业微信群机器人): ``{"errcode": 0}``; 45009 = too many messages (20 a minute per robot),
  93000 = invalid webhook key, 40008/44004 = bad message;
* DingTalk group robot (钉钉自定义机器人): ``{"errcode": 0}``; 130101 = sent too fast (20 a minute),
  310000 = signature mismatch, keyword or IP not allowed, 300001 = token does not exist. A signed robot
  takes ``timestamp`` (ms) and ``sign = Base64(HmacSHA256(secret, "{timestamp}\\n{secret}"))``;
* Feishu custom bot (飞书自定义机器人): ``{"code": 0}``; 9499/11232 = frequency limited, 19021 = signature
  mismatch, 19022 IP not allowed, 19024 keyword missing; ``sign = Base64(HmacSHA256("{ts}\\n{secret}", ""))``;
* an SMS gateway (provider-neutral): its HTTP status — 2xx sent, 429 and 5xx again later, 401/403 a
  configuration problem (again later, like an SMTP authentication failure), any other 4xx (an invalid phone
  number) gives up on the message.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from domain.vocabulary import Channel

PERSONAL = frozenset({Channel.EMAIL, Channel.SMS})
ROBOTS = frozenset({Channel.WECOM, Channel.DINGTALK, Channel.FEISHU})
ROBOT = "robot"  # in a kind's defaults: the group robot of the recipient's township or office

# What each message kind (its mail template) uses when the recipient has chosen nothing. Escalations go up
# the ladder also by SMS and to the group; work notices to the group; the rest by mail only.
_URGENT = frozenset({Channel.EMAIL, Channel.SMS, ROBOT})
_NOTICE = frozenset({Channel.EMAIL, ROBOT})
KIND_DEFAULTS: dict[str, frozenset[str]] = {
    "escalation": _URGENT, "escalation_trigger": _URGENT, "returns_exceeded": _URGENT,
    "reminder": _NOTICE, "obligation_opened": _NOTICE, "desk_notice": _NOTICE,
    "daily_digest": frozenset({Channel.EMAIL}),
}
MAIL_ONLY = frozenset({Channel.EMAIL})

SMS_SEGMENT = 70  # characters of one SMS segment in Chinese (UCS-2), the signature included
DEFAULT_QUIET = (dt.time(22, 0), dt.time(7, 0))
_TEXT_MAX = 600  # characters of a robot message's summary


def kind_defaults(kind: str) -> frozenset[str]:
    return KIND_DEFAULTS.get(kind, MAIL_ONLY)


def personal_channels(kind: str, chosen: Iterable[str] | None) -> frozenset[str]:
    """The recipient's own channels for a message of ``kind``: their choice when they made one, else the kind's default."""
    if chosen is not None:
        return frozenset(chosen) & PERSONAL
    return kind_defaults(kind) & PERSONAL


def wants_robot(kind: str) -> bool:
    """Whether a message of ``kind`` also goes to the recipient's group robot (robots ignore quiet hours)."""
    return ROBOT in kind_defaults(kind)


def in_quiet_hours(local: dt.time, start: dt.time, end: dt.time) -> bool:
    """Whether the local time falls in [start, end); a span past midnight (22:00–07:00) wraps."""
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def after_quiet_hours(local: dt.datetime, start: dt.time, end: dt.time) -> dt.datetime | None:
    """When an SMS written at ``local`` (an aware local time) may go: ``None`` at once, else the quiet hours' end."""
    if not in_quiet_hours(local.timetz().replace(tzinfo=None), start, end):
        return None
    day = local.date() if local.time() < end else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, end, tzinfo=local.tzinfo)


def item_ref(link: str) -> str:
    """The link shortened to the item: its path (``/escalations/12``); the whole link when it has no path."""
    match = re.match(r"^[a-z]+://[^/]+(/.*)?$", link or "")
    return (match.group(1) or "/") if match else (link or "")


def sms_text(sign: str, subject: str, link: str, limit: int = SMS_SEGMENT) -> str:
    """One SMS segment: ``【sign】subject 见/path`` within ``limit`` characters; the subject is cut with “…”."""
    head = f"【{sign}】" if sign else ""
    ref = item_ref(link)
    tail = f" 见{ref}" if ref else ""
    if len(head) + len(tail) >= limit:
        tail = ""
    room = limit - len(head) - len(tail)
    body = subject if len(subject) <= room else subject[: room - 1] + "…"
    return f"{head}{body}{tail}"


def robot_summary(body_text: str) -> str:
    """The body of a mail without its salutation and signature lines, for a group (robots name nobody)."""
    lines = [line.strip() for line in body_text.splitlines()]
    if lines and lines[0].endswith("：") and "您好" in lines[0]:
        lines = lines[1:]
    if "——" in lines:
        lines = lines[: lines.index("——")]
    text = "\n".join(line for line in lines if line).strip()
    return text if len(text) <= _TEXT_MAX else text[: _TEXT_MAX - 1] + "…"


def robot_markdown(subject: str, summary: str, link: str) -> str:
    """Markdown for a group: the subject in bold, the summary quoted, a link to the item."""
    quoted = "\n".join(f"> {line}" for line in summary.splitlines() if line)
    parts = [f"**{subject}**", quoted, f"[进入督办系统办理]({link})" if link else ""]
    return "\n\n".join(p for p in parts if p)


def robot_payload(channel: str, subject: str, markdown: str) -> dict[str, Any]:
    """The JSON a group robot of ``channel`` takes for a markdown (WeCom, DingTalk) or text (Feishu) message."""
    if channel == Channel.WECOM:
        return {"msgtype": "markdown", "markdown": {"content": markdown}}
    if channel == Channel.DINGTALK:
        return {"msgtype": "markdown", "markdown": {"title": subject, "text": markdown}}
    if channel == Channel.FEISHU:
        return {"msg_type": "text", "content": {"text": markdown.replace("**", "")}}
    raise ValueError(f"not a robot channel: {channel}")


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature of a signed robot's request (URL-encode it into ``sign``)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's signature of a signed bot's request (``timestamp`` and ``sign`` in the JSON body)."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class Verdict:
    """What a provider's answer means: ``sent``, ``retried`` (temporary) or ``dead`` (permanent)."""

    outcome: str
    reason: str = ""


_RATE_LIMITED: dict[str, set[int]] = {Channel.WECOM: {45009, -1}, Channel.DINGTALK: {130101}, Channel.FEISHU: {9499, 11232}}
_PERMANENT: dict[str, set[int]] = {Channel.WECOM: {93000, 40008, 44004, 40058}, Channel.DINGTALK: {310000, 300001, 400102},
              Channel.FEISHU: {19021, 19022, 19024, 19001}}


def robot_verdict(channel: str, status: int, body: dict[str, Any] | None) -> Verdict:
    """A robot's answer: HTTP 429/5xx and the documented rate limits are temporary; bad keys, signatures and
    messages permanent; an unknown error code is tried again (never lost; dead after the attempts run out)."""
    if status == 429 or status >= 500:
        return Verdict("retried", f"HTTP {status}")
    if status >= 400:
        return Verdict("dead", f"HTTP {status}")
    body = body or {}
    code = body.get("errcode", body.get("code", body.get("StatusCode")))
    message = str(body.get("errmsg", body.get("msg", "")))[:200]
    if code in (0, None) and status < 300:
        return Verdict("sent")
    reason = f"{Channel.label_of(channel)} errcode {code}: {message}"
    if code in _PERMANENT.get(channel, set()):
        return Verdict("dead", reason)
    if code in _RATE_LIMITED.get(channel, set()):
        return Verdict("retried", f"rate limited, {reason}")
    return Verdict("retried", reason)


def sms_verdict(status: int, detail: str) -> Verdict:
    """An SMS gateway's answer by its HTTP status (see the module docstring)."""
    if 200 <= status < 300:
        return Verdict("sent")
    reason = f"HTTP {status}: {detail[:200]}".rstrip(": ")
    if status == 429 or status >= 500 or status in (401, 403, 408):
        return Verdict("retried", reason)
    return Verdict("dead", reason)


def mask(secret: str | None, keep: int = 4) -> str:
    """A secret as shown back: its last ``keep`` characters only (``••••abcd``); empty stays empty."""
    if not secret:
        return ""
    return "••••" + (secret[-keep:] if len(secret) > 3 * keep else "")


def mask_url(url: str) -> str:
    """A webhook URL as shown back: scheme, host and path, the query (which holds the key) masked."""
    base, _, query = url.partition("?")
    if not query:
        head, _, last = base.rpartition("/")  # Feishu puts the key in the path
        return f"{head}/{mask(last)}" if head else mask(base)
    names = [part.split("=", 1)[0] for part in query.split("&")]
    value = query.split("=", 1)[1] if "=" in query else query
    return f"{base}?" + "&".join(f"{name}={mask(value)}" for name in names[:1])


PHONE = re.compile(r"^1[3-9]\d{9}$")


def valid_phone(phone: str) -> bool:
    """A mainland mobile number: 11 digits starting 13–19."""
    return bool(PHONE.match(phone))


def cause_key(key: str, user_id: int | None) -> str:
    """The outbox key without its recipient (``…:{user_id}``): a group robot gets one message per cause."""
    suffix = f":{user_id}"
    return key[: -len(suffix)] if user_id is not None and key.endswith(suffix) else key


def channel_key(key: str, channel: str, robot_id: int | None = None) -> str:
    """The outbox key of a message's row on another channel (the mail's row keeps ``key`` itself)."""
    if channel == Channel.EMAIL:
        return key
    return f"{key}#{channel}" if robot_id is None else f"{key}#{channel}:{robot_id}"
