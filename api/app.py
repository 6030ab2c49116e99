"""The FastAPI application: JSON API under /api/v1 and the zh-CN web pages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

from api.errors import install_error_handlers
from api.observability import MetricsMiddleware
from api.routes import (
    assessments,
    audit,
    auth,
    cadres,
    calendar,
    campaigns,
    channels,
    definitions,
    desk,
    escalations,
    ledgers,
    ops,
    org_units,
    outbox,
    rectifications,
    stationing,
    stationing_assessment,
    submissions,
    web,
    web_admin,
    web_assessments,
    web_cadres,
    web_channels,
    web_dashboard,
    web_definitions,
    web_desk,
    web_escalations,
    web_forms,
    web_ledgers,
    web_stationing,
    web_stationing_assessment,
    web_work_records,
    work_records,
)
from api.security import DOCS_PATHS, DOCS_STATIC, install_security
from core.settings import get_settings

log = logging.getLogger("duban.api")

STATIC = Path(__file__).resolve().parent / "static"


async def _warm_up_prefect() -> None:
    """Start Prefect's local API now, so the first launch does not wait for it."""
    from prefect.client.orchestration import get_client

    try:
        async with get_client() as client:
            await client.hello()
    except Exception:  # noqa: BLE001 - a cold start later is slower, not wrong
        log.warning("Prefect warm-up failed; the first flow run will start it", exc_info=True)


@contextlib.asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    started: dict[str, Any] = {}

    async def start() -> None:
        # Prefect's local API first, then the scheduler, so the first tick finds it running.
        if settings.prefect_warmup:
            await _warm_up_prefect()
        if settings.scheduler == "embedded":
            from flows.scheduler import start_embedded_scheduler

            started["scheduler"] = start_embedded_scheduler()

    task = asyncio.create_task(start())
    yield
    if not task.done():
        task.cancel()
    if "scheduler" in started:
        started["scheduler"].shutdown(wait=False)


def create_app() -> FastAPI:
    app = FastAPIOffline(  # /docs and /redoc from bundles shipped in the package, no CDN (an intranet has none)
        docs_url=DOCS_PATHS[0], redoc_url=DOCS_PATHS[1], static_url=DOCS_STATIC,
        lifespan=lifespan,
        title="督办 duban",
        version="0.1.0",
        description="县委组织部专项工作督办：按乡镇启动督办任务，跟踪阶段、截止日期与逐级督办。",
    )
    install_error_handlers(app)
    install_security(app, get_settings())
    for module in (auth, definitions, org_units, campaigns, submissions, rectifications, audit, outbox, calendar, web, web_forms, web_admin, web_definitions, web_dashboard):
        app.include_router(module.router)
    for module in (ledgers, web_ledgers):  # 台账: Excel export and import
        app.include_router(module.router)
    for module in (cadres, web_cadres):  # 干部驻村: units, cadres, leaders
        app.include_router(module.router)
    for module in (stationing, web_stationing):  # 驻村周期、选派安排表、到位
        app.include_router(module.router)
    for module in (work_records, web_work_records):  # 驻村工作记录: diaries, visits, quarterly reports
        app.include_router(module.router)
    for module in (channels, web_channels):  # 短信与群机器人: robots, users' channels
        app.include_router(module.router)
    for module in (escalations, web_escalations):  # 督办 and 问责
        app.include_router(module.router)
    for module in (assessments, web_assessments):  # 目标和年度考核
        app.include_router(module.router)
    for module in (stationing_assessment, web_stationing_assessment):  # 驻村考核和验收
        app.include_router(module.router)
    for module in (desk, web_desk):  # 督办台: 交办、签收、延期、三色督办单、定期通报
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    app.include_router(ops.router)  # /healthz, /readyz, /metrics
    app.add_middleware(MetricsMiddleware)
    return app
