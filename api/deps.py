"""Request-scoped dependencies as ``Annotated`` aliases: the session, the clock, and who is calling —
``CurrentPrincipal`` for the JSON API (401 when anonymous), ``PagePrincipal`` for web pages (an anonymous
visitor is sent to the sign-in page), ``PageAdmin`` for the administrators' pages (403 for other roles)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from api.auth import LoginRequired, NotAuthenticated, principal_from_request
from core.clock import Clock, get_clock
from core.db import get_engine
from core.logging import bind
from domain.errors import DubanError
from tasks.accounts import Principal


def get_session() -> Iterator[Session]:
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
ClockDep = Annotated[Clock, Depends(get_clock)]


def current_principal(request: Request, session: SessionDep, clock: ClockDep) -> Principal:
    try:
        principal = principal_from_request(request, session, clock.now())
    finally:
        # End the read transaction: on SQLite it holds the write lock (BEGIN IMMEDIATE), and the
        # handler may hand work to a flow that writes through another connection.
        session.commit()
    if principal is None:
        raise NotAuthenticated("请先登录：API 使用 Authorization: Bearer <令牌>（POST /api/v1/auth/token 获取）")
    _log_as(principal)
    return principal


def _log_as(principal: Principal) -> None:
    """Name the user (and their township or unit, by id) in the request's log records."""
    unit = principal.user.org_unit_id
    bind(user=principal.user.username, township=str(unit) if unit is not None else None)


def optional_principal(request: Request, session: SessionDep, clock: ClockDep) -> Principal | None:
    try:
        principal = principal_from_request(request, session, clock.now())
    except DubanError:
        return None
    finally:
        session.commit()
    if principal is not None:
        _log_as(principal)
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


def page_principal(principal: OptionalPrincipal) -> Principal:
    """The signed-in visitor of a web page; an anonymous one is redirected to the sign-in page."""
    if principal is None:
        raise LoginRequired
    return principal


PagePrincipal = Annotated[Principal, Depends(page_principal)]


def page_admin(principal: PagePrincipal) -> Principal:
    """The administrator on an administrators' page; any other role gets 403 (the error page)."""
    principal.require_role("admin")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
PageAdmin = Annotated[Principal, Depends(page_admin)]
