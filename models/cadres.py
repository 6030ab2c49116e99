"""Cadres stationed in villages (驻村干部) and the leaders who contact a village (挂点领导), after 003 三(一)(二)."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import ConfigDict, field_validator
from sqlalchemy import Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from domain.forms import text_problem
from models.org import blank_is_none, code_chars


class LeaderLevel(StrEnum):
    """县领导 (county Party and government leaders, 人大/政协 Party members) or 镇领导 (township leaders), 003 三(一)."""

    COUNTY = "county"
    TOWNSHIP = "township"


def _unit_fk() -> Column:  # type: ignore[type-arg]
    return Column(Integer, ForeignKey("org_units.id", ondelete="RESTRICT"), nullable=False, index=True)


class Cadre(SQLModel, table=True):
    """A cadre who may be sent to a village: sent by a dispatching unit (派出单位) or by a township (镇派)."""

    __tablename__ = "cadres"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True, index=True)
    name: str = Field(max_length=50)
    unit_id: int = Field(sa_column=_unit_fk())
    post: str = Field(max_length=100, description="职务")
    phone: str | None = Field(default=None, max_length=20)


class Leader(SQLModel, table=True):
    """A county or township leader and the one village they contact (每人包一个村)."""

    __tablename__ = "leaders"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True, index=True)
    name: str = Field(max_length=50)
    level: str = Field(max_length=16, description="county | township")
    post: str = Field(max_length=100, description="职务")
    phone: str | None = Field(default=None, max_length=20)
    township_id: int = Field(sa_column=_unit_fk())
    village_id: int = Field(sa_column=_unit_fk())


class _PersonIn(SQLModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)  # type: ignore[assignment]

    code: str = Field(min_length=1, max_length=32, description="letters, digits, - and _")
    name: str = Field(min_length=1, max_length=50)
    post: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, max_length=20)

    _blank = field_validator("phone", mode="before")(blank_is_none)
    _code = field_validator("code")(code_chars)

    @field_validator("name", "post")
    @classmethod
    def _printable(cls, value: str) -> str:
        problem = text_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("phone")
    @classmethod
    def _phone_chars(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[0-9+() -]{5,20}", value):
            raise ValueError("联系电话只能包含数字、空格、+、-和括号")
        return value


class CadreIn(_PersonIn):
    """One cadre, as an import row or an administrator's create/update."""

    unit: str = Field(min_length=1, max_length=32, description="code of the dispatching unit or township")


class LeaderIn(_PersonIn):
    """One leader, as an import row or an administrator's create/update."""

    level: LeaderLevel
    village: str = Field(min_length=1, max_length=32, description="code of the village the leader contacts")


class CadrePublic(SQLModel):
    code: str
    name: str
    unit: str
    unit_name: str
    post: str
    phone: str | None


class LeaderPublic(SQLModel):
    code: str
    name: str
    level: LeaderLevel
    post: str
    phone: str | None
    township: str
    village: str
    village_name: str
