"""Delivery on channels besides mail: group robots (WeCom, DingTalk, Feishu) and an SMS gateway, over httpx.

Why not ``apprise`` (installed with Prefect, and it speaks all three robots): its ``notify`` answers only
True or False, and its DingTalk, WeCom and Feishu plugins report success for any HTTP 200 — but these
robots answer a rate limit (45009, 130101, 9499) or a bad signature (310000, 19021) with HTTP 200 and an
error code in the body. Through apprise a rate-limited message would be recorded as sent and lost, and a
bad signature could not be told from an outage; its debug log also prints the webhook URL with its key.
So the requests are plain httpx and the answers are judged by :func:`domain.channels.robot_verdict`.

A sender either returns (delivered) or raises :class:`notifications.mailer.TemporaryFailure` /
:class:`notifications.mailer.PermanentFailure`, as a :class:`notifications.mailer.Mailer` does. Reasons never
hold a webhook key, a secret or the gateway's token.

Secrets are sealed with Fernet under ``DUBAN_CHANNELS_KEY`` (or a key file made once in the var directory).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import httpx
from cryptography.fernet import Fernet, InvalidToken

from core.settings import get_settings
from domain.channels import dingtalk_sign, feishu_sign, robot_payload, robot_verdict, sms_verdict
from domain.vocabulary import Channel
from models.review import OutboxMessage
from notifications.mailer import PermanentFailure, TemporaryFailure

log = logging.getLogger(__name__)


# ---- secrets ---------------------------------------------------------------------------------------


@lru_cache
def _fernet() -> Fernet:
    settings = get_settings()
    key = settings.channels_key.get_secret_value() if settings.channels_key else ""
    if not key:
        path = settings.var_dir / "channels.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key())
        key = path.read_text().strip()
    return Fernet(key.encode())


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def unseal(sealed: str) -> str:
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise PermanentFailure("the robot's webhook cannot be decrypted (DUBAN_CHANNELS_KEY changed?)") from None


# ---- senders ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RobotTarget:
    """A robot's webhook and secret, unsealed for one batch (never logged: ``repr`` hides them)."""

    channel: str
    webhook: str
    secret: str | None

    def __repr__(self) -> str:
        return f"RobotTarget({self.channel!r})"


class ChannelSender(Protocol):
    async def deliver(self, message: OutboxMessage, target: RobotTarget | None) -> None:
        """Deliver one row; raise TemporaryFailure or PermanentFailure."""
        ...


def _redact(text: str, *secrets: str | None) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _body(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _raise(outcome: str, reason: str) -> None:
    if outcome == "dead":
        raise PermanentFailure(reason)
    if outcome == "retried":
        raise TemporaryFailure(reason)


class RobotSender:
    """Posts a row's markdown to its group robot; signs DingTalk's and Feishu's requests when there is a secret."""

    def __init__(self, timeout: float = 10, clock_ms: Any = None) -> None:
        self.timeout = timeout
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))

    async def deliver(self, message: OutboxMessage, target: RobotTarget | None) -> None:
        if target is None:
            raise PermanentFailure("the group robot was removed or switched off")
        payload = robot_payload(target.channel, message.subject, message.body_text)
        params: dict[str, str] = {}
        now_ms = self._clock_ms()
        if target.secret and target.channel == Channel.DINGTALK:
            params = {"timestamp": str(now_ms), "sign": dingtalk_sign(target.secret, now_ms)}
        elif target.secret and target.channel == Channel.FEISHU:
            payload |= {"timestamp": str(now_ms // 1000), "sign": feishu_sign(target.secret, now_ms // 1000)}
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                # merged into the webhook's own query (access_token): ``params=`` would replace it
                url = httpx.URL(target.webhook).copy_merge_params(params)
                response = await client.post(url, json=payload)
        except httpx.HTTPError as exc:
            raise TemporaryFailure(_redact(f"{type(exc).__name__}: {exc}", target.webhook, target.secret)) from None
        verdict = robot_verdict(target.channel, response.status_code, _body(response))
        _raise(verdict.outcome, _redact(verdict.reason, target.webhook, target.secret))


class SmsSender:
    """Posts ``{phone field: number, text field: text}`` as JSON to a provider-neutral gateway, with a bearer token."""

    def __init__(self, url: str, token: str | None, *, phone_field: str = "phone", text_field: str = "text",
                 timeout: float = 10) -> None:
        self.url = url
        self.token = token
        self.phone_field = phone_field
        self.text_field = text_field
        self.timeout = timeout

    def __repr__(self) -> str:
        return "SmsSender()"

    async def deliver(self, message: OutboxMessage, target: RobotTarget | None) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        payload = {self.phone_field: message.to_addr, self.text_field: message.body_text, "id": message.message_id}
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.post(self.url, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise TemporaryFailure(_redact(f"{type(exc).__name__}: {exc}", self.token)) from None
        detail = json.dumps(_body(response), ensure_ascii=False) if _body(response) else response.text
        verdict = sms_verdict(response.status_code, _redact(detail, self.token))
        _raise(verdict.outcome, verdict.reason)


def default_senders() -> Mapping[str, ChannelSender]:
    """The senders the settings configure: the robots always, SMS when a gateway URL is set."""
    settings = get_settings()
    robots = RobotSender(timeout=settings.channels_timeout)
    senders: dict[str, ChannelSender] = {Channel.WECOM: robots, Channel.DINGTALK: robots, Channel.FEISHU: robots}
    if settings.sms_gateway_url:
        token = settings.sms_gateway_token.get_secret_value() if settings.sms_gateway_token else None
        senders[Channel.SMS] = SmsSender(settings.sms_gateway_url, token, phone_field=settings.sms_phone_field,
                                         text_field=settings.sms_text_field, timeout=settings.channels_timeout)
    return senders
