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


PARENT_KIND = {OrgKind.COUNTY: None, OrgKind.TOWNSHIP: OrgKind.COUNTY, OrgKind.VILLAGE: OrgKind.TOWNSHIP}


class OrgUnit(SQLModel, table=True):
    __tablename__ = "org_units"
    __table_args__ = (Index("ix_org_units_kind_parent", "kind", "parent_id"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True, index=True)
    name: str = Field(max_length=100)
    kind: str = Field(max_length=16, description="county | township | village")
    collective_income: int | None = Field(default=None, description="village collective net income, yuan/yr")
    key_contact_class: str | None = Field(default=None, max_length=1, description="key-contact class B or C")
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

    @field_validator("parent", "key_contact_class", "collective_income", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("code")
    @classmethod
    def _code_chars(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", value):
            raise ValueError("编码只能包含字母、数字、- 和 _")
        return value

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
