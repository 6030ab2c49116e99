"""Run every benchmark, print the table and write bench/results.json (``make bench``)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from pathlib import Path

from bench.common import Figure, cleanup_environment, configure_environment

RESULTS = Path(__file__).resolve().parent / "results.json"
NAMES = ("b1", "b2", "b3", "b4", "b5", "b6", "b7")
QUICK_RESULTS = RESULTS.with_name("results-quick.json")
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


def carried_over(ran: AbstractSet[str], produced: AbstractSet[tuple[str, str, str]] = frozenset(),
                 partial: AbstractSet[str] = frozenset()) -> list[dict[str, object]]:
    """The figures of the benchmarks not run now, from the previous results.json (marked with its date); of a
    benchmark run only in part (``partial``: B6 without its year against SpiffWorkflow, which ``make bench-peers``
    runs), the figures it did not produce."""
    try:
        previous = json.loads(RESULTS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [
        {**f, "carried_over_from": f.get("carried_over_from", previous.get("date"))}
        for f in previous.get("figures", [])
        if f.get("benchmark") not in ran
        or (f.get("benchmark") in partial and (f.get("benchmark"), f.get("name"), f.get("backend")) not in produced)
    ]


def _unit(figure: Figure) -> str:
    """What a figure measures: seconds, or (B7) megabytes."""
    return str(figure.details.get("unit", "s"))


def table(figures: list[Figure]) -> str:
    rows = [HEADERS] + [
        (
            f.figure,
            f"{f.duban_s:.3f} s" if _unit(f) == "s" else f"{f.duban_s:,.0f} {_unit(f)}",
            f"{f.baseline_s:.3f} s" if _unit(f) == "s" else f"{f.baseline_s:,.0f} {_unit(f)}",
            f"{f.ratio:.2f}×",
            f"≤ {f.target_ratio:g}× {'ok' if f.passed else 'MISSED'}",
        )
        for f in figures
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description="duban's benchmarks (see BENCHMARKS.md)")
    parser.add_argument("benchmarks", nargs="*", metavar="NAME", help=f"any of {', '.join(NAMES)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run (figures not comparable)")
    args = parser.parse_args(argv)
    args.benchmarks = [b.lower() for b in args.benchmarks] or list(NAMES)
    unknown = set(args.benchmarks) - set(NAMES)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; choose from {', '.join(NAMES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.quick:
        os.environ.setdefault("BENCH_TOWNSHIPS", "100")
    root = configure_environment()  # before anything of duban or Prefect is imported
    from bench import launch, mail, tick
    from bench.missed import over_target

    available: dict[str, tuple[Callable[[Path, bool], list[Figure]], Callable[[Figure], str]]] = {
        "b1": (lambda r, q: launch.run(r), launch.summary),
        "b2": (tick.run, tick.summary),
        "b3": (mail.run, mail.summary),
    }
    from bench.api import run as api_run
    from bench.api import summary as api_summary
    from bench.peers import peers_year
    from bench.peers import run as peers_run
    from bench.peers import summary as peers_summary

    available["b4"] = (api_run, api_summary)
    from bench import simulate

    available["b5"] = (simulate.run, simulate.summary)
    available["b6"] = (peers_run, peers_summary)
    from bench import memory

    available["b7"] = (memory.run, memory.summary)
    benchmarks = [available[name] for name in NAMES if name in args.benchmarks]
    started = dt.datetime.now(dt.UTC)
    figures: list[Figure] = []
    notes: list[str] = []
    try:
        for run, summarise in benchmarks:
            for figure in run(root, args.quick):
                figures.append(figure)
                notes.append(summarise(figure))
    finally:
        cleanup_environment()

    print(table(figures))
    print()
    for note in notes:
        print(note)
    missed = over_target(figures)
    if missed:
        print("\nOver target, with where the time goes and the next step (BENCHMARKS.md has the profiles):")
        for line in missed:
            print(f"- {line}")
    plans = list(tick.plans_text(figures))
    if plans:
        print()
        print("\n\n".join(plans))
    results = {
        "date": started.isoformat(timespec="seconds"),
        "machine": machine_info(),
        "command": " ".join([Path(sys.executable).name, "-m", "bench", *(sys.argv[1:] if argv is None else argv)]),
        "quick": args.quick,
        "figures": [f.as_json() for f in figures],
    }
    # A smoke run never replaces the real figures; a run of some benchmarks keeps the others' last figures.
    out = QUICK_RESULTS if args.quick else RESULTS
    if not args.quick:
        produced = {(f.benchmark, f.name, f.backend) for f in figures}
        partial = set() if peers_year() else {"B6"}
        results["figures"] += carried_over({n.upper() for n in args.benchmarks}, produced, partial)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
