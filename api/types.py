"""Input types shared by the API's request models."""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le
from pydantic import AfterValidator

from domain.forms import text_problem

DB_INT_MAX = 2**31 - 1
"""The largest value a PostgreSQL ``integer`` column holds: no id, version or offset can be larger, and a larger
number must be refused as input (422) before it reaches the database, which would fail on it (SQLite: OverflowError)."""


def _clean(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


CleanStr = Annotated[str, AfterValidator(_clean)]
DbId = Annotated[int, Ge(1), Le(DB_INT_MAX)]
"""A row id or a version number: 1 … DB_INT_MAX (path, query or body)."""
DbOffset = Annotated[int, Ge(0), Le(DB_INT_MAX)]
"""A paging offset: 0 … DB_INT_MAX."""
