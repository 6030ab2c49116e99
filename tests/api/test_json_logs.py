"""Logs are JSON lines carrying the request: its id (answered in X-Request-ID), the user, their unit and the
route template; never the bearer token."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from core.logging import RequestContext, formatter, log_config, resolve


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter("json"))
    handler.addFilter(RequestContext())
    logger = logging.getLogger("duban")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(old)


async def test_each_request_logs_a_json_line_with_its_context(client: httpx.AsyncClient, json_lines: io.StringIO) -> None:
    me = await client.get("/api/v1/me")
    assert me.status_code == 200
    request_id = me.headers["x-request-id"]
    proxied = await client.get("/no-such-page", headers={"X-Request-ID": "proxy-id-1234"})
    assert proxied.headers["x-request-id"] == "proxy-id-1234"
    odd = await client.get("/healthz", headers={"X-Request-ID": "bad id\\with spaces"})
    assert odd.headers["x-request-id"] != "bad id\\with spaces"

    records = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    access = [r for r in records if r["logger"] == "duban.access"]
    first = next(r for r in access if r["request_id"] == request_id)
    assert {k: first[k] for k in ("level", "user", "route", "method", "status")} == {
        "level": "INFO", "user": "admin", "route": "/api/v1/me", "method": "GET", "status": 200}
    assert first["time"] and first["township"]  # the county administrator's unit
    unmatched = next(r for r in access if r["request_id"] == "proxy-id-1234")
    assert unmatched["route"] == "unmatched" and unmatched["status"] == 404
    token = client.headers["authorization"].removeprefix("Bearer ")
    assert token not in json_lines.getvalue()


def test_text_on_a_terminal_json_elsewhere() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert resolve("auto", Tty()) == "text" and resolve("auto", io.StringIO()) == "json"
    assert resolve("json", Tty()) == "json"
    config = log_config("text")
    assert config["loggers"]["uvicorn.access"]["propagate"] is False
