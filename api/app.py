"""The FastAPI application: JSON API under /api/v1 and the zh-CN web pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.errors import install_error_handlers
from api.routes import calendar, campaigns, definitions, org_units, web

STATIC = Path(__file__).resolve().parent / "static"


def create_app() -> FastAPI:
    app = FastAPI(
        title="督办 duban",
        version="0.1.0",
        description="县委组织部专项工作督办：按乡镇启动督办任务，跟踪阶段、截止日期与逐级督办。",
    )
    install_error_handlers(app)
    for module in (definitions, org_units, campaigns, calendar, web):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", tags=["ops"], summary="Liveness probe")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
