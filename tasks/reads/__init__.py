"""Reads: what the JSON API and the web pages show, in one place for both.

Each module answers the questions about one area (``campaigns``, ``submissions``, ``todos``,
``escalations``, ``documents``, ``cases``, ``rectifications``, ``dashboard``, ``targets``, ``assessments``,
``org_units``, ``accounts``, ``calendars``, ``outbox``, ``overrides``) with keyword-only functions of ``(session, principal, …)`` that return plain
dicts, public models or a ``Page`` of them. Every one of them restricts what it reads to the caller's
townships through ``tasks.scope``; routes parse the request, call one read and return its answer.
A list and its count come from one filter (``Page``), as Prefect's server models do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import func
from sqlmodel import Session, col, select

S = TypeVar("S")
T = TypeVar("T")

__all__ = ["Page", "fetch_page", "where_given"]


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its ``items``, how many match in all (``total``), and the window asked for."""

    items: list[T]
    total: int
    limit: int
    offset: int

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of every paged list of the API."""
        return {"items": self.items, "total": self.total, "limit": self.limit, "offset": self.offset}


def fetch_page(session: Session, stmt: Any, *order_by: Any, limit: int, offset: int) -> tuple[list[Any], int]:
    """The rows of ``stmt`` in ``order_by`` within the window, and how many rows ``stmt`` matches in all:
    one filtered statement serves both the read and the count."""
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    rows = list(session.exec(stmt.order_by(*order_by).limit(limit).offset(offset)))
    return rows, int(total)


def where_given(stmt: S, *conditions: tuple[Any, Any]) -> S:
    """``stmt`` with ``column == value`` for each (column, value) whose value was given (not None): the
    optional filters of a list request."""
    for column, value in conditions:
        if value is not None:
            stmt = stmt.where(col(column) == value)  # type: ignore[attr-defined]
    return stmt
