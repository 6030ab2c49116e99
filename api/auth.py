"""Who is calling: a bearer token (API) or a session cookie with a CSRF token (web). The dependencies
that hand the caller to a route (``CurrentPrincipal``, ``PagePrincipal`` …) are in ``api.deps``."""

from __future__ import annotations

import datetime as dt
import secrets

from fastapi import Request
from sqlmodel import Session

from domain.errors import DubanError
from tasks.accounts import Principal, csrf_token_for, principal_for, user_for_token, web_session

SESSION_COOKIE = "duban_session"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class NotAuthenticated(DubanError):
    status = 401
    title = "需要登录"


class LoginRequired(Exception):  # noqa: N818 - a signal, answered with a redirect (api.errors), not an error
    """An anonymous visitor asked for a web page: answered with a 303 to the sign-in page, which returns
    them to the page they asked for (``/login?next=<path>``)."""


def csrf_matches(sent: str, expected: str) -> bool:
    """Constant-time comparison of a CSRF token as sent (any text: non-ASCII must not raise) with the session's."""
    return bool(expected) and secrets.compare_digest(sent.encode("utf-8", "surrogatepass"), expected.encode())


def principal_from_request(request: Request, session: Session, now: dt.datetime) -> Principal | None:
    """The caller of ``request``: a bearer token (an invalid one raises ``NotAuthenticated``) or a live
    session cookie (its CSRF token is checked on the API's unsafe methods); None for an anonymous caller."""
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
