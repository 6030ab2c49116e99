"""Input types shared by the API's request models."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from domain.forms import text_problem


def _clean(value: str) -> str:
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


CleanStr = Annotated[str, AfterValidator(_clean)]
