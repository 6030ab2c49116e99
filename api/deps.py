"""Request-scoped dependencies as ``Annotated`` aliases: the session (``ReadSessionDep`` for a handler that only
reads: its transactions are reads, which on SQLite run beside a writer instead of queueing for the write lock), the clock, and who is calling —
``CurrentPrincipal`` for the JSON API (401 when anonymous), ``PagePrincipal`` for web pages (an anonymous
visitor is sent to the sign-in page), ``PageAdmin`` for the administrators' pages (403 for other roles)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.auth import LoginRequired, NotAuthenticated, principal_from_request
from core.clock import Clock, get_clock
from core.db import READ_ONLY, begin_read, get_engine, read_only
from core.logging import bind
from domain.errors import DubanError
from tasks.accounts import Principal


def get_session() -> Iterator[Session]:
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_read_session(session: SessionDep) -> Session:
    """The request's session (the one the caller was identified with), every transaction of it a read: a
    write through it fails (``core.db.read_only``)."""
    bind = session.get_bind()
    assert isinstance(bind, Engine)
    session.bind = read_only(bind)
    return session


ReadSessionDep = Annotated[Session, Depends(get_read_session)]
ClockDep = Annotated[Clock, Depends(get_clock)]


def current_principal(request: Request, session: SessionDep, clock: ClockDep) -> Principal:
    begin_read(session)  # finding the caller writes nothing: on SQLite it need not wait for the write lock
    try:
        principal = principal_from_request(request, session, clock.now())
    finally:
        _end_read(session)
    if principal is None:
        raise NotAuthenticated("请先登录：API 使用 Authorization: Bearer <令牌>（POST /api/v1/auth/token 获取）")
    _log_as(principal)
    return principal


def _end_read(session: Session) -> None:
    """End the transaction the caller was found in: the handler's own transaction may be a write, and it may hand
    work to a flow that writes through another connection. A handler whose session only reads (``ReadSessionDep``,
    resolved before the principal) goes on in the same read transaction instead: one snapshot for the whole
    request, one BEGIN and one COMMIT fewer."""
    bind = session.get_bind()
    if not (isinstance(bind, Engine) and bind.get_execution_options().get(READ_ONLY)):
        session.commit()


def _log_as(principal: Principal) -> None:
    """Name the user (and their township or unit, by id) in the request's log records."""
    unit = principal.user.org_unit_id
    bind(user=principal.user.username, township=str(unit) if unit is not None else None)


def optional_principal(request: Request, session: SessionDep, clock: ClockDep) -> Principal | None:
    begin_read(session)
    try:
        principal = principal_from_request(request, session, clock.now())
    except DubanError:
        return None
    finally:
        _end_read(session)
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
