"""A refusal is not a fault: when a flow or task ends on a ``DubanError`` below 500 (a bad township code, a
conflict), Prefect would log it with a full traceback, three times. The request already answers 4xx with the
reason and the access log has its line; Prefect's records of it are dropped, real faults keep their tracebacks."""

from __future__ import annotations

import logging

from domain.errors import DubanError

PREFECT_RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


def _refusal_names() -> set[str]:
    names, todo = set(), [DubanError]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.status < 500:
            names.add(cls.__name__)
    return names


class QuietRefusals(logging.Filter):
    """Drops a Prefect run's records about an exception that is a refusal (``DubanError`` with a 4xx status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            return not (isinstance(exc, DubanError) and exc.status < 500)
        message = record.getMessage()
        return not any(f"{name}:" in message or f"{name}(" in message for name in _refusal_names())


def quiet_refusals() -> None:
    """Install :class:`QuietRefusals` on Prefect's flow-run and task-run loggers (once)."""
    for name in PREFECT_RUN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, QuietRefusals) for f in logger.filters):
            logger.addFilter(QuietRefusals())
