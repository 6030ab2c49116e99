"""Published versions of the campaign definitions: immutable YAML with its author, time and note."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, ForeignKey, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime


class DefinitionVersion(SQLModel, table=True):
    """One published version of a definition. The text never changes once written; only ``retired_at`` is set
    later, on the newest version, when the definition takes no new launches."""

    __tablename__ = "definition_versions"
    __table_args__ = (UniqueConstraint("key", "version", name="uq_definition_version"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, index=True)
    version: int
    source: str = Field(sa_column=Column(Text, nullable=False))
    note: str = Field(default="", max_length=500)
    published_by: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("users.id"), nullable=True))
    published_at: dt.datetime = Field(sa_type=UTCDateTime)
    retired_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    retired_by: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("users.id"), nullable=True))
