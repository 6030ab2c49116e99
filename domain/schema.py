"""The building blocks of the definition schema (``domain.definitions``) and of the trigger settings
(``domain.triggers``): strict models, keys, short texts and the kinds of form field."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

KEY_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
Key = Annotated[str, Field(pattern=KEY_PATTERN)]
Text = Annotated[str, Field(min_length=1, max_length=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldType(StrEnum):
    TEXT = "text"
    TEXTAREA = "textarea"
    NUMBER = "number"
    DATE = "date"
    SELECT = "select"
    BOOLEAN = "boolean"
    VILLAGES = "villages"
    VILLAGE_NUMBERS = "village_numbers"  # a number for each village of the township: {village code: number}
    FILE = "file"


NumberUnit = Literal["percent", "growth", "count", "times", "yuan"]
"""What a number measures. ``percent`` is a share on the one scale 0–100 (90 means 90%); ``growth`` a change
in percent (≥ -100); ``count`` and ``times`` whole numbers ≥ 0; ``yuan`` an amount of money."""

UNIT_SUFFIX: dict[str, str] = {"percent": "%", "growth": "%", "count": "", "times": "次", "yuan": "元"}
