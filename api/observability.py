"""Request metrics as plain ASGI middleware: counts and latency by route template (``/api/v1/campaigns/{id}``,
never the raw path), so that the series stay few; a path no route matches is counted as ``unmatched``."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core import metrics


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "")
            metrics.REQUESTS.labels(method, route, str(status[0])).inc()
            metrics.REQUEST_SECONDS.labels(method, route).observe(time.perf_counter() - started)
