"""``prefect server start`` with one compatibility fix: ``python -m scripts.prefect_server [its options]``.

Prefect 3.8's scheduler service turns deployment schedules into flow runs with one bulk INSERT whose rows also
carry a ``state`` key, the ``FlowRun.state`` hybrid property (Prefect inserts the states itself right after).
SQLAlchemy 2.0 ignored such keys. SQLAlchemy 2.1, which duban pins, raises ``InvalidRequestError: Can't evaluate
bulk DML statement; please supply a bulk_dml decorated function`` instead, on every scheduler loop, so no cron
schedule ever produces a run. The ``bulk_dml`` setter added here drops the key, as 2.0 did.

In the foreground, ``prefect server start`` serves the API and runs its services in this same process, so the
fix applied here reaches the scheduler.
"""

from __future__ import annotations

import sys
from collections.abc import MutableMapping
from typing import Any


def _leave_state_to_prefect(cls: Any, mapping: MutableMapping[str, Any], value: Any) -> None:
    mapping.pop("state", None)


def allow_bulk_insert_of_runs() -> list[str]:
    """Give the ``state`` hybrids of flow and task runs a ``bulk_dml`` setter where they lack one; returns the
    models changed (none on a SQLAlchemy without ``bulk_dml`` or a Prefect that defines it)."""
    from prefect.server.database import orm_models

    changed = []
    for model in (orm_models.FlowRun, orm_models.TaskRun):
        hybrid = model.__dict__["state"]
        if hasattr(hybrid, "bulk_dml") and getattr(hybrid, "bulk_dml_setter", None) is None:
            # In place: in SQLAlchemy 2.1.9 the copying ``hybrid.bulk_dml(...)`` itself fails with a TypeError.
            hybrid.inplace.bulk_dml(_leave_state_to_prefect)
            changed.append(model.__name__)
    return changed


def main(argv: list[str]) -> None:
    allow_bulk_insert_of_runs()
    from prefect.cli import app

    sys.argv = ["prefect", "server", "start", *argv]  # the Prefect CLI reads its arguments from sys.argv
    app()


if __name__ == "__main__":
    main(sys.argv[1:])
