"""What a simulation run is asked to do, and what it answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROFILES = ("on_time", "late", "never", "hollow")
"""The townships' behaviour profiles (see :mod:`simulation.people`)."""


@dataclass
class SimulationConfig:
    townships: int = 3
    villages: int = 4  # per township
    year: int = 2026
    years: int = 1  # campaign years launched: year, year+1, …
    seed: int = 1
    definition: str = "weak_village_rectification"
    on_time: float = 0.6  # shares of townships by behaviour profile
    late: float = 0.2
    never: float = 0.1
    hollow: float = 0.1
    max_returns: int = 2  # reviewers return a report 0..max_returns times (bounded by the definition)
    smtp_outage_days: int = 0
    restarts: int = 0
    clock_jump: int = 0  # days skipped at once (0: none)
    second_tick_every: int = 7
    days: int | None = None  # stop after this many days (default: the whole campaign and its ladder)
    database_url: str | None = None  # default: a fresh SQLite file in a temporary directory
    report: Path | None = None

    def shares(self) -> dict[str, float]:
        values = {"on_time": self.on_time, "late": self.late, "never": self.never, "hollow": self.hollow}
        if any(v < 0 for v in values.values()) or sum(values.values()) <= 0:
            raise ValueError("behaviour shares must be non-negative and not all zero")
        return values


@dataclass
class Invariant:
    """One checked property of the run: whether it held, over how many items, and the first problems."""

    name: str
    ok: bool
    checked: int
    problems: list[str] = field(default_factory=list)


@dataclass
class SimulationResult:
    summary: dict[str, Any]
    invariants: list[Invariant]
    timings: dict[str, float]
    report_path: Path | None = None
    database_url: str = ""

    @property
    def ok(self) -> bool:
        return all(i.ok for i in self.invariants)

