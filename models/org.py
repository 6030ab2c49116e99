"""Organisation hierarchy: county → township (乡镇) → village (村)."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import ConfigDict, field_validator
from sqlalchemy import Column, ForeignKey, Index, Integer
from sqlmodel import Field, SQLModel


class OrgKind(StrEnum):
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"
    UNIT = "unit"  # 派出单位: a county department or a province/city unit stationed in the county (003 三(二))


class UnitLevel(StrEnum):
    """Who a dispatching unit belongs to: 县直 or 省、市驻县单位 (003 三(二), 四(五))."""

    COUNTY = "county"
    CITY = "city"
    PROVINCE = "province"


PARENT_KIND = {OrgKind.COUNTY: None, OrgKind.TOWNSHIP: OrgKind.COUNTY, OrgKind.VILLAGE: OrgKind.TOWNSHIP,
               OrgKind.UNIT: OrgKind.COUNTY}


def blank_is_none(value: object) -> object:
    """An empty cell is no value."""
    return None if isinstance(value, str) and not value.strip() else value


def code_chars(value: str) -> str:
    """Codes (of units, cadres, leaders) are letters, digits, - and _."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", value):
        raise ValueError("编码只能包含字母、数字、- 和 _")
    return value


class OrgUnit(SQLModel, table=True):
    __tablename__ = "org_units"
    __table_args__ = (Index("ix_org_units_kind_parent", "kind", "parent_id"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True, index=True)
    name: str = Field(max_length=100)
    kind: str = Field(max_length=16, description="county | township | village | unit")
    collective_income: int | None = Field(default=None, description="village collective net income, yuan/yr")
    key_contact_class: str | None = Field(default=None, max_length=1, description="key-contact class B or C")
    unit_level: str | None = Field(default=None, max_length=16, description="dispatching unit: county | city | province")
    establishment_size: int | None = Field(default=None, description="dispatching unit: 编制人数")
    parent_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("org_units.id", ondelete="RESTRICT"), nullable=True)
    )


class OrgUnitIn(SQLModel):
    """One row of an org import (CSV or YAML)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)  # type: ignore[assignment]

    code: str = Field(min_length=1, max_length=32, description="letters, digits, - and _")
    name: str = Field(min_length=1, max_length=100)
    kind: OrgKind
    parent: str | None = Field(default=None, max_length=32)
    collective_income: int | None = Field(default=None, ge=0, le=10**10)
    key_contact_class: str | None = Field(default=None)
    unit_level: UnitLevel | None = None
    establishment_size: int | None = Field(default=None, ge=1, le=100_000)

    _blank = field_validator("parent", "key_contact_class", "collective_income", "unit_level", "establishment_size",
                             mode="before")(blank_is_none)
    _code = field_validator("code")(code_chars)

    @field_validator("key_contact_class")
    @classmethod
    def _class_b_or_c(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in {"B", "C"}:
            raise ValueError("must be B (市级重点联系) or C (县级重点联系), or empty")
        return value.upper() if value else None


class OrgUnitPublic(SQLModel):
    code: str
    name: str
    kind: OrgKind
    parent: str | None
    collective_income: int | None
    key_contact_class: str | None
    unit_level: UnitLevel | None = None
    establishment_size: int | None = None
