"""The sizes of the process-level tests, and what they report to ``make soak`` (``bench/soak.py``).

``make test`` runs every scenario of the crash harness, the process races, the fuzzing and the simulation at a
small size; ``make soak`` runs the same tests at a large one, set through the environment:

- ``DUBAN_CRASH_CYCLES``: SIGKILL cycles per kill point (tests/flows/test_kill_points.py);
- ``DUBAN_RACE_PARTIES``: the racer counts, one test per count (``"4"``, or ``"2-10"`` for 2, 3, …, 10);
- ``DUBAN_RACE_YEARS``: the campaign years raced for (each year: every township launched and decided by all);
- ``DUBAN_FUZZ_EXAMPLES``: schemathesis cases per operation and generation mode (tests/api/test_fuzz.py);
- ``DUBAN_SOAK``: ``1`` runs the tests marked ``soak`` (skipped otherwise); ``DUBAN_SOAK_SIM_*`` size the
  simulation they run.

With ``DUBAN_SOAK_RECORD`` naming a file, each such test appends one JSON line to it: what it tried and what it
found lost, duplicated or wrong, computed before its assertions, so that a failure is counted, not only raised.
"""

from __future__ import annotations

import json
import os
from typing import Any


def size(name: str, default: int) -> int:
    """A positive size from the environment, or ``default``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    value = int(raw)
    if value < 1:
        raise ValueError(f"{name} must be at least 1, not {value}")
    return value


def sizes(name: str, default: list[int]) -> list[int]:
    """A list of sizes: ``"4"``, ``"2,3,5"`` or a range ``"2-10"``."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if "-" in raw:
        low, high = (int(x) for x in raw.split("-", 1))
        values = list(range(low, high + 1))
    else:
        values = [int(x) for x in raw.split(",") if x.strip()]
    if not values or min(values) < 1:
        raise ValueError(f"{name}={raw!r} names no positive sizes")
    return values


def soak_enabled() -> bool:
    """Whether the tests marked ``soak`` run (``make soak`` sets ``DUBAN_SOAK=1``)."""
    return os.environ.get("DUBAN_SOAK") == "1"


def record(part: str, backend: str, **figures: Any) -> None:
    """Append what one test tried and found to ``DUBAN_SOAK_RECORD`` (nothing without it)."""
    path = os.environ.get("DUBAN_SOAK_RECORD")
    if not path:
        return
    line = json.dumps({"part": part, "backend": backend, **figures}, ensure_ascii=False, default=str)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
