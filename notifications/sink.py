"""Local SMTP servers (aiosmtpd): the development sink that keeps every message as an .eml file, and a loopback
server with a handler of one's own (the simulation's recorder, the delivery tests' faulty servers); and the
channel sink, a local HTTP stand-in for group robots and an SMS gateway (``duban run`` and the tests)."""

from __future__ import annotations

import datetime as dt
import json
import mailbox
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

from core.net import free_port
from domain.channels import dingtalk_sign, feishu_sign, mask, valid_phone
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


# ---- the robot and SMS sink --------------------------------------------------------------------------

ROBOT_PATHS = {"wecom": "/cgi-bin/webhook/send", "dingtalk": "/robot/send", "feishu": "/open-apis/bot/v2/hook/"}
SMS_PATH = "/sms/send"


@dataclass
class Received:
    """One request the channel sink accepted."""

    channel: str
    target: str  # the robot's key or token, or the phone number
    text: str
    at: str


@dataclass
class _Script:
    """Answers to give instead of success: (HTTP status, JSON body), the next ones first."""

    answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


class ChannelSink:
    """A local stand-in for WeCom, DingTalk and Feishu group robots and an SMS gateway (real HTTP, a thread).

    It answers as the providers do (``domain.channels``): a DingTalk or Feishu robot given a secret in
    ``secrets`` checks the request's signature (310000 / 19021 when it does not match); a phone that is
    not a mainland mobile number is refused with HTTP 400; :meth:`script` queues other answers (a rate
    limit, an outage). What it accepts is kept in :attr:`received` and, with ``log``, one JSON line each.
    """

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, log: Path | None = None,
                 clock_ms: Callable[[], int] | None = None) -> None:
        self.host = host
        self.port = port or free_port()
        self.log = log
        self.received: list[Received] = []
        self.requests = 0
        self.secrets: dict[str, str] = {}  # robot key or token → its secret
        self.sms_token: str | None = None
        self._scripts: dict[str, _Script] = {}
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def webhook(self, channel: str, key: str) -> str:
        """The webhook URL of a robot on this sink, as the provider would hand it out."""
        if channel == "wecom":
            return f"{self.url}{ROBOT_PATHS['wecom']}?key={key}"
        if channel == "dingtalk":
            return f"{self.url}{ROBOT_PATHS['dingtalk']}?access_token={key}"
        return f"{self.url}{ROBOT_PATHS['feishu']}{key}"

    def script(self, channel: str, *answers: tuple[int, dict[str, Any]]) -> None:
        """Give these answers to the next requests on ``channel`` (``wecom``, ``dingtalk``, ``feishu``, ``sms``)."""
        with self._lock:
            self._scripts.setdefault(channel, _Script()).answers.extend(answers)

    def of(self, channel: str) -> list[Received]:
        return [r for r in self.received if r.channel == channel]

    def start(self) -> ChannelSink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, body = sink._answer(self.path, self.headers.get("Authorization"), raw)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # requests carry keys: never logged
                return

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ChannelSink:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _answer(self, path: str, authorization: str | None, raw: bytes) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests += 1
        parsed = urllib.parse.urlsplit(path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            return 400, {"errcode": 40008, "errmsg": "invalid json"}
        channel, target = self._route(parsed.path, query, payload)
        if channel is None:
            return 404, {"errcode": 404, "errmsg": "no such path"}
        with self._lock:
            script = self._scripts.get(channel)
            if script is not None and script.answers:
                return script.answers.pop(0)
        refusal = self._refusal(channel, target, query, payload, authorization)
        if refusal is not None:
            return refusal
        self._keep(channel, target, payload)
        return 200, {"code": 0, "msg": "success"} if channel in ("feishu", "sms") else {"errcode": 0, "errmsg": "ok"}

    @staticmethod
    def _route(path: str, query: dict[str, str], payload: dict[str, Any]) -> tuple[str | None, str]:
        if path == ROBOT_PATHS["wecom"]:
            return "wecom", query.get("key", "")
        if path == ROBOT_PATHS["dingtalk"]:
            return "dingtalk", query.get("access_token", "")
        if path.startswith(ROBOT_PATHS["feishu"]):
            return "feishu", path[len(ROBOT_PATHS["feishu"]):]
        if path == SMS_PATH:
            return "sms", str(payload.get("phone", ""))
        return None, ""

    def _refusal(self, channel: str, target: str, query: dict[str, str], payload: dict[str, Any],
                 authorization: str | None) -> tuple[int, dict[str, Any]] | None:
        secret = self.secrets.get(target)
        if channel == "dingtalk" and secret is not None:
            stamp = query.get("timestamp", "")
            fresh = stamp.isdigit() and abs(self._clock_ms() - int(stamp)) < 3_600_000
            if not fresh or query.get("sign") != dingtalk_sign(secret, int(stamp)):
                return 200, {"errcode": 310000, "errmsg": "sign not match"}
        if channel == "feishu" and secret is not None:
            stamp = str(payload.get("timestamp", ""))
            if not stamp.isdigit() or payload.get("sign") != feishu_sign(secret, int(stamp)):
                return 200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
        if channel == "sms" and self.sms_token and authorization != f"Bearer {self.sms_token}":
            return 401, {"code": "Unauthorized", "message": "bad credentials"}
        if channel == "sms" and not valid_phone(target):
            return 400, {"code": "isv.MOBILE_NUMBER_ILLEGAL", "message": "invalid phone number"}
        return None

    def _keep(self, channel: str, target: str, payload: dict[str, Any]) -> None:
        text = _text_of(channel, payload)
        item = Received(channel, target, text, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
        with self._lock:
            self.received.append(item)
            if self.log is not None:
                self.log.parent.mkdir(parents=True, exist_ok=True)
                shown = item.target if channel == "sms" else mask(item.target)
                with self.log.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(asdict(item) | {"target": shown}, ensure_ascii=False) + "\n")


def _text_of(channel: str, payload: dict[str, Any]) -> str:
    if channel == "sms":
        return str(payload.get("text", ""))
    if channel == "feishu":
        return str((payload.get("content") or {}).get("text", ""))
    markdown = payload.get("markdown") or {}
    return str(markdown.get("content") or markdown.get("text") or "")


def read_channel_log(path: Path, limit: int = 50) -> list[dict[str, Any]]:
    """The last ``limit`` messages the development sink received, newest first."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()[-limit:]
    return [json.loads(line) for line in reversed(lines) if line.strip()]
