"""People, their roles and scopes, and how they authenticate."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import UTCDateTime


class User(SQLModel, table=True):
    """An account. ``org_unit_id`` is the unit the role acts for: the county for admins and
    county reviewers, the township for submitters and township reviewers."""

    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    display_name: str = Field(max_length=100)
    email: str | None = Field(default=None, max_length=254)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=16, description="admin | reviewer | submitter | observer")
    level: str | None = Field(default=None, max_length=16, description="reviewers: township | county")
    org_unit_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("org_units.id"), nullable=True)
    )
    active: bool = Field(default=True)
    daily_digest: bool = Field(default=False, description="reminders as one mail a day instead of one per item")
    failed_logins: int = Field(default=0)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)


class UserScope(SQLModel, table=True):
    """An observer's contact townships or villages (read-only)."""

    __tablename__ = "user_scopes"
    __table_args__ = (UniqueConstraint("user_id", "org_unit_id", name="uq_user_scope"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False))
    org_unit_id: int = Field(sa_column=Column(Integer, ForeignKey("org_units.id"), nullable=False))


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False))
    token_hash: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(default="api", max_length=100)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime)


class WebSession(SQLModel, table=True):
    __tablename__ = "web_sessions"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False))
    session_hash: str = Field(max_length=64, unique=True, index=True)
    csrf_token: str = Field(max_length=64)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    expires_at: dt.datetime = Field(sa_type=UTCDateTime)
