"""B4's server: duban's real application plus two bare endpoints, for ``uvicorn --factory`` only.

The bare endpoints live in the same process, behind the same middleware (security headers, body limit,
error handlers), so the difference between them and duban's read endpoints is duban's own work. They
are never part of the production app (api.app.create_app).
"""

from __future__ import annotations

from fastapi import FastAPI

from api.app import create_app

BARE = {"status": "ok"}


def create_bench_app() -> FastAPI:
    app = create_app()

    @app.get("/bench/bare", include_in_schema=False)
    def bare() -> dict[str, str]:
        # A plain ``def`` like duban's read endpoints: it pays the same thread-pool hop.
        return BARE

    @app.get("/bench/bare-async", include_in_schema=False)
    async def bare_async() -> dict[str, str]:
        return BARE

    return app
