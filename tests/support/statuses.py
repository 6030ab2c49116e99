"""Which status vocabulary each table stores, and a check that a database holds only known statuses."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from domain.vocabulary import STATUSES

TABLE_KINDS = {
    "campaigns": "campaign", "stages": "stage", "obligations": "obligation", "submissions": "submission",
    "escalations": "escalation", "accountability_cases": "case", "village_rectifications": "rectification",
    "outbox": "outbox", "cadre_assessments": "appraisal", "stationing_plans": "stationing_plan",
    "unit_reports": "unit_report",
    "extension_requests": "extension", "desk_bulletins": "bulletin",
}
"""The kind of status each table with a ``status`` column stores."""


def assert_every_status_is_known(engine: Engine) -> None:
    """Every status stored in the database is a member of its kind's enum."""
    tables = {t.name: t for t in SQLModel.metadata.sorted_tables}
    with engine.connect() as conn:
        stored = {name: set(conn.execute(select(tables[name].c.status).distinct()).scalars()) for name in TABLE_KINDS}
    unknown = {name: values - set(STATUSES[TABLE_KINDS[name]].labels()) for name, values in stored.items()}
    assert {name: values for name, values in unknown.items() if values} == {}
    assert stored["submissions"] and stored["stages"] and stored["obligations"], "the scenario wrote nothing"
