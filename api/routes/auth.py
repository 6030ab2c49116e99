"""Tokens for the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentPrincipal, NotAuthenticated
from api.deps import ClockDep, SessionDep
from api.types import CleanStr
from tasks.accounts import authenticate, issue_token

router = APIRouter(prefix="/api/v1", tags=["auth"])


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"username": "qx01-liaison", "password": "duban-demo-2027"}]})

    username: CleanStr = Field(min_length=1, max_length=64)
    password: CleanStr = Field(min_length=1, max_length=200)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: dt.datetime


@router.post("/auth/token", response_model=TokenResponse, summary="Exchange a username and password for a bearer token")
def create_token(body: TokenRequest, session: SessionDep, clock: ClockDep) -> TokenResponse:
    user = authenticate(session, body.username, body.password)
    if user is None:
        session.commit()  # keep the failed-login count
        raise NotAuthenticated("用户名或密码错误（连续错误过多的账户会被锁定）")
    token, expires = issue_token(session, user, clock.now())
    session.commit()
    return TokenResponse(access_token=token, expires_at=expires)


@router.get("/me", summary="The signed-in user and what they may see")
def me(principal: CurrentPrincipal) -> dict[str, Any]:
    user = principal.user
    return {
        "username": user.username, "display_name": user.display_name, "role": user.role, "level": user.level,
        "townships": sorted(principal.townships) if principal.townships is not None else None,
    }
