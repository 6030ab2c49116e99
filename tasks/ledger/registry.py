"""The ledger registry: a ledger is one ``register(Ledger(...))`` (its columns, the filters it accepts and the query
that yields its rows, scoped to the caller exactly like the matching API list)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from sqlmodel import Session

from core.clock import china_date
from domain.errors import NotFound, PermissionDenied, ValidationFailed
from tasks.accounts import Principal
from tasks.ledger.excel import Column, write_workbook

FILENAME_PREFIX = "督办台账"


@dataclass(frozen=True)
class LedgerFilters:
    """The query filters of the matching API lists; each ledger accepts the ones its list accepts."""

    township: str | None = None
    year: int | None = None
    definition: str | None = None
    campaign: int | None = None
    status: str | None = None

    def given(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]


Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class Ledger:
    name: str  # the URL name: /api/v1/ledgers/{name}.xlsx
    title: str  # Chinese, for the sheet, the file name and the page
    columns: tuple[Column, ...]
    rows: Callable[[Session, Principal, LedgerFilters], Rows]
    filters: frozenset[str]
    roles: frozenset[str] | None = None  # None: every signed-in role (rows are scoped to the caller)
    description: str = ""


LEDGERS: dict[str, Ledger] = {}


def register(ledger: Ledger) -> Ledger:
    """Add a ledger (e.g. accountability cases) to the export API, the page and the CLI."""
    LEDGERS[ledger.name] = ledger
    return ledger


def get_ledger(name: str) -> Ledger:
    ledger = LEDGERS.get(name)
    if ledger is None:
        raise NotFound(f"没有名为“{name}”的台账；可导出的台账：{'、'.join(LEDGERS)}",
                       errors=[{"field": "name", "message": "unknown ledger"}])
    return ledger


def visible_ledgers(principal: Principal) -> list[Ledger]:
    return [x for x in LEDGERS.values() if x.roles is None or principal.user.role in x.roles]


def filename_for(ledger: Ledger, filters: LedgerFilters, today: dt.date) -> str:
    """督办台账-截止事项-2027.xlsx; without a year filter, the date of the export."""
    suffix = str(filters.year) if filters.year is not None else today.strftime("%Y%m%d")
    return f"{FILENAME_PREFIX}-{ledger.title}-{suffix}.xlsx"


def ledger_rows(session: Session, principal: Principal, name: str, filters: LedgerFilters) -> tuple[Ledger, Rows]:
    """The rows of a ledger as the caller's API list would return them (same scope, same filters)."""
    ledger = get_ledger(name)
    if ledger.roles is not None and principal.user.role not in ledger.roles:
        raise PermissionDenied(f"您的角色无权导出“{ledger.title}”台账")
    unsupported = [f for f in filters.given() if f not in ledger.filters]
    if unsupported:
        allowed = "、".join(sorted(ledger.filters)) or "无"
        raise ValidationFailed(
            f"“{ledger.title}”台账不支持筛选条件 {'、'.join(unsupported)}；可用：{allowed}",
            errors=[{"field": f, "message": "not a filter of this ledger"} for f in unsupported],
        )
    return ledger, ledger.rows(session, principal, filters)


def export_ledger(session: Session, principal: Principal, name: str, filters: LedgerFilters,
                  now: dt.datetime) -> tuple[bytes, str]:
    """The workbook and its file name."""
    ledger, rows = ledger_rows(session, principal, name, filters)
    return write_workbook(ledger.title, ledger.columns, rows), filename_for(ledger, filters, china_date(now))

