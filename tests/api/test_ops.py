"""Probes and metrics: /healthz, /readyz (database and migrations), /metrics (Prometheus, loopback or token)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.engine import Engine

from core.clock import FakeClock
from core.db import session_scope
from core.settings import get_settings
from flows.tick import deliver_notifications, set_mailer
from models import OutboxMessage
from notifications.mailer import MemoryMailer
from tests.support.tick import tick


def _samples(body: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def _value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def _mail(engine: Engine, key: str, status: str, created_at: dt.datetime) -> None:
    with session_scope(engine) as s:
        s.add(OutboxMessage(key=key, message_id=f"<{key}@duban.local>", to_addr="a@b.cn", subject="测试",
                            body_text="正文", body_html="<p>正文</p>", status=status, created_at=created_at))


@pytest.fixture
def memory_mailer() -> Iterator[MemoryMailer]:
    mailer = MemoryMailer()
    set_mailer(mailer)
    yield mailer
    set_mailer(None)


async def test_health_and_readiness(client: httpx.AsyncClient, demo_county: Engine) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {
        "status": "ready", "checks": {"database": "ok", "migrations": "ok"}}
    with demo_county.begin() as conn:  # a database one migration behind the code
        conn.execute(text("UPDATE alembic_version SET version_num = '0008'"))
    behind = await client.get("/readyz")
    assert behind.status_code == 503 and behind.json()["status"] == "not ready"
    assert "duban db upgrade" in behind.json()["checks"]["migrations"]


async def test_metrics_after_a_tick_a_delivery_and_a_404(
    client: httpx.AsyncClient, demo_county: Engine, clock: FakeClock, memory_mailer: MemoryMailer
) -> None:
    now = clock.now()
    before = _samples((await client.get("/metrics")).text)
    _mail(demo_county, "ops-old", "pending", now - dt.timedelta(hours=1))
    _mail(demo_county, "ops-dead", "dead", now - dt.timedelta(days=1))
    waiting = _samples((await client.get("/metrics")).text)
    assert _value(waiting, "duban_outbox_oldest_pending_age_seconds") >= 3600
    assert _value(waiting, "duban_outbox_messages", status="pending") >= 1
    assert _value(waiting, "duban_outbox_messages", status="dead") == 1

    tick(demo_county, now)
    sent = await deliver_notifications.fn(now=now)
    assert sent["sent"] >= 1 and memory_mailer.sent
    assert (await client.get("/no-such-page")).status_code == 404
    assert (await client.get("/api/v1/campaigns/999999")).status_code == 404

    scraped = await client.get("/metrics")
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    after = _samples(scraped.text)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("duban_tick_step_duration_seconds_count", step="open_obligations") == 1
    assert grew("duban_tick_step_duration_seconds_count", step="climb_ladder") == 1
    assert ("duban_tick_actions_total", frozenset({("count", "windows_opened")})) in after
    assert _value(after, "duban_tick_last_run_timestamp_seconds") == now.timestamp()
    assert grew("duban_outbox_delivery_attempts_total", outcome="sent") == sent["sent"]
    assert grew("duban_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert grew("duban_http_requests_total", method="GET", route="/api/v1/campaigns/{campaign_id}", status="404") == 1
    assert grew("duban_http_request_duration_seconds_count", method="GET", route="/metrics") >= 2
    assert _value(after, "duban_outbox_oldest_pending_age_seconds") == 0  # everything waiting went out
    assert _value(after, "duban_outbox_messages", status="dead") == 1
    assert not any("999999" in dict(labels).get("route", "") for _, labels in after)  # templates, not paths


async def test_metrics_answer_loopback_or_the_token_only(
    client: httpx.AsyncClient, demo_county: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.app import create_app

    remote = httpx.ASGITransport(app=create_app(), client=("10.1.2.3", 40000))
    async with httpx.AsyncClient(transport=remote, base_url="http://duban.test") as outsider:
        refused = await outsider.get("/metrics")
        assert refused.status_code == 403 and "本机" in refused.json()["detail"]
        monkeypatch.setenv("DUBAN_METRICS_TOKEN", "scrape-secret-1")
        get_settings.cache_clear()
        try:
            assert (await outsider.get("/metrics")).status_code == 403
            assert (await client.get("/metrics")).status_code == 403  # with a token set, loopback needs it too
            wrong = {"Authorization": "Bearer nope"}
            assert (await outsider.get("/metrics", headers=wrong)).status_code == 403
            good = await outsider.get("/metrics", headers={"Authorization": "Bearer scrape-secret-1"})
            assert good.status_code == 200 and "duban_http_requests_total" in good.text
        finally:
            monkeypatch.delenv("DUBAN_METRICS_TOKEN")
            get_settings.cache_clear()
