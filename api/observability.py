"""Request metrics and log context as plain ASGI middleware: counts and latency by route template
(``/api/v1/campaigns/{id}``, never the raw path), so that the series stay few (a path no route matches is
``unmatched``); every request gets a request id (a sane ``X-Request-ID`` sent by a proxy, or a new one),
answered in ``X-Request-ID`` and carried by its log records, and one ``duban.access`` line."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core import metrics
from core.logging import bind, open_request

access = logging.getLogger("duban.access")
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if _SANE_ID.match(text):
                return text
    return uuid.uuid4().hex


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]
        request_id = _request_id(scope)
        context = open_request(request_id)

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "")
            seconds = time.perf_counter() - started
            bind(route=route)
            metrics.REQUESTS.labels(method, route, str(status[0])).inc()
            metrics.REQUEST_SECONDS.labels(method, route).observe(seconds)
            access.info("%s %s %s %.1f ms", method, route, status[0], seconds * 1000,
                        extra={"method": method, "status": status[0], "duration_ms": round(seconds * 1000, 1)})
            context.clear()
