"""B5 "simulation": a whole campaign year of a county (and a slice of a province's) through ``duban simulate``.

duban: :func:`simulation.run_simulation` — a fresh SQLite database, the generated org tree, the batch
launch, then every day of the campaign (ticks, the outbox delivered to a real local SMTP server, people
submitting and reviewers deciding after the behaviour model) and the invariant checks at the end. Each
run is its own process, so its peak RSS is its own.

Baseline: the issue's time budget (county year 60 s; province year 15 min) — the "ratio" is the share of
the budget used, target ≤ 1. A province's full year takes hours on a small machine, so unless
``BENCH_PROVINCE_DAYS=0`` asks for the full year, the province runs its first ``BENCH_PROVINCE_DAYS``
days (default 14: the launch of 1,000 campaigns and two weeks of ticks) against the budget's share of
those days; that figure is labelled with the days it covers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import Figure

REPO = Path(__file__).resolve().parent.parent
COUNTY = {"townships": 20, "villages": 15, "budget_s": 60.0}
PROVINCE = {"townships": 1000, "villages": 15, "budget_s": 15 * 60.0}
YEAR_DAYS = 365

CHILD = """
import json, resource, sys, time
from simulation import SimulationConfig, run_simulation
args = json.loads(sys.argv[1])
started = time.perf_counter()
result = run_simulation(SimulationConfig(**args))
elapsed = time.perf_counter() - started
print("RESULT " + json.dumps({
    "elapsed_s": elapsed, "timings": result.timings, "ok": result.ok,
    "failed_invariants": [i.name for i in result.invariants if not i.ok],
    "days": result.summary.get("days"), "obligations": result.summary.get("obligations"),
    "mail": result.summary.get("mail"), "escalations": result.summary.get("escalations"), "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}, ensure_ascii=False, default=str))
"""


def run_child(root: Path, child: str, var_dir: str, config: dict[str, Any]) -> dict[str, Any]:
    """Run ``child`` (Python source reading its JSON config from argv) in a fresh process with its own var
    directory; its ``RESULT {json}`` line, with the process's wall time as ``process_wall_s``."""
    env = {**os.environ, "DUBAN_VAR_DIR": str(root / var_dir), "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", child, json.dumps(config)], cwd=REPO, env=env,
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"simulation failed (rc={done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    out: dict[str, Any] = json.loads(line[len("RESULT "):])
    out["process_wall_s"] = wall
    return out


def _simulate(root: Path, **config: Any) -> dict[str, Any]:
    return run_child(root, CHILD, "var-sim", config)


def run(root: Path, quick: bool) -> list[Figure]:
    figures = []
    county = dict(COUNTY)
    if quick:
        county.update(townships=3, villages=4)
    found = _simulate(root, townships=county["townships"], villages=county["villages"], seed=1,
                      smtp_outage_days=2, restarts=1)
    figures.append(Figure("B5", f"county year {county['townships']}×{county['villages']}", "sqlite",
                          found["elapsed_s"], float(county["budget_s"]), 1.0,
                          {**found, "townships": county["townships"], "villages_per_township": county["villages"],
                           "baseline": "time budget"}))
    days = int(os.environ.get("BENCH_PROVINCE_DAYS", "14"))
    province = dict(PROVINCE)
    if quick:
        province.update(townships=20, villages=4)
        days = days or 14
    config: dict[str, Any] = {"townships": province["townships"], "villages": province["villages"], "seed": 1}
    if days:
        config["days"] = days
    found = _simulate(root, **config)
    covered = found.get("days") or days or YEAR_DAYS
    budget = float(province["budget_s"]) * (min(covered, YEAR_DAYS) / YEAR_DAYS if days else 1.0)
    label = f"province {province['townships']}×{province['villages']}" + (f", first {covered} days" if days else " year")
    figures.append(Figure("B5", label, "sqlite", found["elapsed_s"], budget, 1.0,
                          {**found, "townships": province["townships"], "villages_per_township": province["villages"],
                           "baseline": f"time budget ({'share of ' if days else ''}15 min)"}))
    return figures


def summary(figure: Figure) -> str:
    d = figure.details
    t = d.get("timings", {})
    ob = d.get("obligations") or {}
    return (
        f"{figure.figure}: {d['townships']} townships × {d['villages_per_township']} villages, {d.get('days')} days, "
        f"{sum(v for v in ob.values() if isinstance(v, int)):,} obligation outcomes; "
        f"launch {t.get('launch', 0):.1f} s, days {t.get('days', 0):.1f} s, checks {t.get('checks', 0):.1f} s; "
        f"peak RSS {d['peak_rss_mb']:.0f} MB; invariants {'ok' if d['ok'] else 'FAILED: ' + ', '.join(d['failed_invariants'])}"
    )
