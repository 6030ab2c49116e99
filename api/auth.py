"""Who is calling: a bearer token (API) or a session cookie with a CSRF token (web)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from api.deps import ClockDep, SessionDep
from domain.errors import DubanError
from tasks.accounts import Principal, csrf_token_for, principal_for, user_for_token, web_session

SESSION_COOKIE = "duban_session"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class NotAuthenticated(DubanError):
    status = 401
    title = "需要登录"


def csrf_matches(sent: str, expected: str) -> bool:
    """Constant-time comparison of a CSRF token as sent (any text: non-ASCII must not raise) with the session's."""
    return bool(expected) and secrets.compare_digest(sent.encode("utf-8", "surrogatepass"), expected.encode())


def _principal(request: Request, session: Session, clock: ClockDep) -> Principal | None:
    now = clock.now()
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise NotAuthenticated("Authorization 头应为 “Bearer <令牌>”；令牌可通过 POST /api/v1/auth/token 获取")
        user = user_for_token(session, token.strip(), now)
        if user is None:
            raise NotAuthenticated("令牌无效或已过期，请重新获取")
        return principal_for(session, user)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        found = web_session(session, cookie, now)
        if found is None:
            return None
        user, _ = found
        csrf = csrf_token_for(cookie)
        if request.method in UNSAFE and request.url.path.startswith("/api/"):
            sent = request.headers.get("x-csrf-token", "")
            if not csrf_matches(sent, csrf):
                raise DubanError("缺少或错误的 CSRF 令牌（X-CSRF-Token）", status=403)
        request.state.csrf_token = csrf
        return principal_for(session, user)
    return None


def current_principal(request: Request, session: SessionDep, clock: ClockDep) -> Principal:
    try:
        principal = _principal(request, session, clock)
    finally:
        # End the read transaction: on SQLite it holds the write lock (BEGIN IMMEDIATE), and the
        # handler may hand work to a flow that writes through another connection.
        session.commit()
    if principal is None:
        raise NotAuthenticated("请先登录：API 使用 Authorization: Bearer <令牌>（POST /api/v1/auth/token 获取）")
    return principal


def optional_principal(request: Request, session: SessionDep, clock: ClockDep) -> Principal | None:
    try:
        return _principal(request, session, clock)
    except DubanError:
        return None
    finally:
        session.commit()


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
