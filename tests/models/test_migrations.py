"""The Alembic migrations build exactly the schema the models declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import models  # noqa: F401


def test_migrated_schema_matches_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []


def test_unique_keys_that_make_retries_harmless(engine: Engine) -> None:
    inspector = inspect(engine)
    uniques = {u["name"] for u in inspector.get_unique_constraints("campaigns")}
    assert "uq_campaign_definition_township_year" in uniques
    assert "uq_obligation_campaign_key" in {u["name"] for u in inspector.get_unique_constraints("obligations")}
