"""Tokens for the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import NotAuthenticated
from api.deps import ClockDep, CurrentPrincipal, SessionDep
from api.errors import problem
from api.routes.problems import problems
from api.types import CleanStr
from tasks.accounts import issue_token
from tasks.login_guard import Lockout, attempt_login

router = APIRouter(prefix="/api/v1", tags=["auth"])


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"username": "qx01-liaison", "password": "duban-demo-2027"}]})

    username: CleanStr = Field(min_length=1, max_length=64)
    password: CleanStr = Field(min_length=1, max_length=200)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: dt.datetime


def locked_out(lockout: Lockout, now: dt.datetime) -> JSONResponse:
    """429 problem+json with ``Retry-After`` for a username locked after too many failed sign-ins."""
    seconds = lockout.retry_after(now)
    response = problem(429, "登录尝试过多", lockout.message(now), "/problems/login-locked", retry_after=seconds)
    response.headers["Retry-After"] = str(seconds)
    return response


@router.post(
    "/auth/token", response_model=TokenResponse, summary="Exchange a username and password for a bearer token",
    responses=problems(400, 401, 413, 422, 429),
)
def create_token(request: Request, body: TokenRequest, session: SessionDep, clock: ClockDep) -> TokenResponse | JSONResponse:
    now = clock.now()
    client = request.client.host if request.client else None
    outcome = attempt_login(session, body.username, body.password, now, channel="api", client=client)
    if isinstance(outcome, Lockout):
        session.commit()
        return locked_out(outcome, now)
    if outcome is None:
        session.commit()  # keep the failed-login count and its audit events
        raise NotAuthenticated("用户名或密码错误（连续错误过多的账户会被锁定）")
    token, expires = issue_token(session, outcome, now)
    session.commit()
    return TokenResponse(access_token=token, expires_at=expires)


@router.get("/me", summary="The signed-in user and what they may see", responses=problems(401))
def me(principal: CurrentPrincipal) -> dict[str, Any]:
    user = principal.user
    return {
        "username": user.username, "display_name": user.display_name, "role": user.role, "level": user.level,
        "townships": sorted(principal.townships) if principal.townships is not None else None,
    }
