"""HTTP hardening as plain ASGI middleware: security headers on every response and a request body limit.

Both wrap the whole application, so they also cover error answers, static files and the 413 itself.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Iterable
from pathlib import Path

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem
from core.settings import Settings

log = logging.getLogger("duban.api")

TEMPLATES = Path(__file__).resolve().parent / "templates"

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
_INLINE_STYLE = re.compile(r"<style[\s>]|\sstyle=", re.I)

# Swagger UI (/docs) and ReDoc (/redoc) are served from duban itself (the bundles of ``fastapi-offline`` under
# DOCS_STATIC, so they work on an intranet) and start from an inline script. They get this looser policy, which
# still lets them load nothing from anywhere but this origin.
DOCS_CSP = (
    "default-src 'self'; "
    "script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; "
    "font-src 'self' data:; "
    "img-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc", "/docs/oauth2-redirect")
DOCS_STATIC = "/static-docs"

PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
HSTS = "max-age=31536000"


def _sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def page_csp(templates: Path = TEMPLATES) -> str:
    """The policy of our pages: everything from this origin, plus exactly the inline code the templates hold.

    Inline ``<script>`` blocks are allowed by their hash (computed from the templates, so editing a script
    keeps it working); inline styles are allowed only if some template uses them.
    """
    scripts: set[str] = set()
    inline_styles = False
    for path in sorted(templates.glob("*.html")):
        text = path.read_text(encoding="utf-8")
        for body in _INLINE_SCRIPT.findall(text):
            if "{{" in body or "{%" in body:
                log.warning("inline script in %s is templated; it cannot be allowed by hash", path.name)
                continue
            scripts.add(_sha256_source(body))
        inline_styles = inline_styles or bool(_INLINE_STYLE.search(text))
    script_src = " ".join(["'self'", *sorted(scripts)])
    style_src = "'self' 'unsafe-inline'" if inline_styles else "'self'"
    return (
        f"default-src 'self'; script-src {script_src}; style-src {style_src}; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response; headers a route set itself (its own CSP) win."""

    def __init__(self, app: ASGIApp, *, csp: str, docs_csp: str, docs_paths: Iterable[str], hsts: bool) -> None:
        self.app = app
        self.csp = csp
        self.docs_csp = docs_csp
        self.docs_paths = frozenset(docs_paths)
        self.fixed = {
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Referrer-Policy": "same-origin",
            "Permissions-Policy": PERMISSIONS_POLICY,
        }
        if hsts:
            self.fixed["Strict-Transport-Security"] = HSTS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = self.docs_csp if scope["path"] in self.docs_paths else self.csp

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in (*self.fixed.items(), ("Content-Security-Policy", csp)):
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _too_large_detail(limit: int) -> str:
    return f"请求体过大：最多 {limit / (1024 * 1024):g} MB（附件不超过 10 MB，Excel 台账不超过 5 MB）"


class BodySizeLimitMiddleware:
    """Refuses request bodies over ``limit`` bytes with 413 problem+json, before reading them in full.

    A declared ``Content-Length`` over the limit is refused without reading anything. Otherwise the bytes are
    counted as the application reads them; once past the limit, reading raises the 413, which the
    application's error handler turns into problem+json (the handler never runs, so nothing is written).
    """

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, _too_large_detail(self.limit))
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except HTTPException as exc:
            # Reached only if the body was read outside the application's error handlers.
            if exc.status_code != 413 or started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(413, "请求体过大", _too_large_detail(self.limit))
        response.headers["Connection"] = "close"  # the rest of the body is not read
        await response(scope, receive, send)


def install_security(app: FastAPI, settings: Settings) -> None:
    """Install the body limit inside the security headers, so the 413 carries the headers too."""
    docs_paths = DOCS_PATHS
    app.add_middleware(BodySizeLimitMiddleware, limit=settings.max_request_bytes)
    app.add_middleware(
        SecurityHeadersMiddleware, csp=page_csp(), docs_csp=DOCS_CSP, docs_paths=docs_paths,
        hsts=settings.effective_base_url.startswith("https://"),
    )
