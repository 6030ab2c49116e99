"""Probes and metrics for the operators: ``/healthz`` (alive), ``/readyz`` (ready to serve), ``/metrics``."""

from __future__ import annotations

import hmac
import ipaddress

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import ClockDep, SessionDep
from core import metrics
from core.db import get_engine
from core.settings import get_settings
from domain.errors import PermissionDenied
from tasks.ops import ops_numbers, readiness

router = APIRouter(tags=["ops"])


@router.get("/healthz", summary="Liveness probe")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _prefect_reachable() -> str:
    from prefect.client.orchestration import get_client

    try:
        with anyio.fail_after(3):
            async with get_client() as client:
                await client.hello()
    except Exception as exc:  # noqa: BLE001 - any failure means not reachable
        return f"unreachable: {type(exc).__name__}"
    return "ok"


@router.get("/readyz", summary="Readiness: database reachable, migrations current, Prefect reachable if used",
            responses={503: {"description": "not ready; the body names the failing check"}})
async def readyz() -> JSONResponse:
    checks = (await anyio.to_thread.run_sync(readiness, get_engine())).checks
    if get_settings().scheduler == "prefect":
        checks["prefect"] = await _prefect_reachable()
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503)


def _allowed(request: Request) -> bool:
    token = get_settings().metrics_token
    if token is not None:
        sent = request.headers.get("authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {token.get_secret_value()}".encode())
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@router.get("/metrics", summary="Prometheus metrics (a token, or from this machine only)",
            response_class=Response, responses={403: {"description": "neither the token nor from loopback"}})
def prometheus_metrics(request: Request, session: SessionDep, clock: ClockDep) -> Response:
    if not _allowed(request):
        raise PermissionDenied("指标接口只对本机开放，或须携带 DUBAN_METRICS_TOKEN 设置的令牌（Authorization: Bearer …）")
    numbers = ops_numbers(session, clock.now())
    for status, count in numbers.outbox.items():
        metrics.OUTBOX_MESSAGES.labels(status).set(count)
    metrics.OUTBOX_OLDEST_PENDING.set(numbers.oldest_pending_seconds)
    metrics.LEASE_HOLDER.clear()
    for lease, holder in numbers.leases:
        metrics.LEASE_HOLDER.labels(lease, holder).set(1)
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)
