"""Run every benchmark, print the table and write bench/results.json (``make bench``)."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path

from bench.common import Figure, cleanup_environment, configure_environment

RESULTS = Path(__file__).resolve().parent / "results.json"
HEADERS = ("figure", "duban", "baseline", "ratio", "target")


def machine_info() -> dict[str, object]:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
    }


def table(figures: list[Figure]) -> str:
    rows = [HEADERS] + [
        (
            f.figure,
            f"{f.duban_s:.3f} s",
            f"{f.baseline_s:.3f} s",
            f"{f.ratio:.2f}×",
            f"≤ {f.target_ratio:g}× {'ok' if f.passed else 'MISSED'}",
        )
        for f in figures
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main() -> int:
    root = configure_environment()  # before anything of duban or Prefect is imported
    from bench import launch

    benchmarks: list[tuple[Callable[[Path], list[Figure]], Callable[[Figure], str]]] = [
        (launch.run, launch.summary),
    ]
    started = dt.datetime.now(dt.UTC)
    figures: list[Figure] = []
    notes: list[str] = []
    try:
        for run, summarise in benchmarks:
            for figure in run(root):
                figures.append(figure)
                notes.append(summarise(figure))
    finally:
        cleanup_environment()

    print(table(figures))
    print()
    for note in notes:
        print(note)
    results = {
        "date": started.isoformat(timespec="seconds"),
        "machine": machine_info(),
        "command": " ".join([Path(sys.executable).name, "-m", "bench"]),
        "figures": [f.as_json() for f in figures],
    }
    RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
