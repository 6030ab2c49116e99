"""B7 "memory": duban's peak resident memory under load, against the same process idle.

API under B4 load: B4's server (``bench.api.Server``: uvicorn with duban's app, SQLite with 1 worker,
PostgreSQL with 4) on B4's seeded database. Idle: each worker process's resident set (``VmRSS`` in
``/proc/<pid>/status``) once it has started, imported everything and answered the bare route, before any
of duban's endpoints ran. Peak: the same process's high-water mark (``VmHWM``) after B4's whole load
(every endpoint, the same rounds and requests). With several workers the figure is the worker that grew
the most.

Province simulation: B5's province slice (1,000 townships × 15 villages, the first ``BENCH_PROVINCE_DAYS``
days, default 14) in a child process, as B5 runs it. Idle: the child's ``VmRSS`` after importing duban
and the simulation, before it starts; peak: its ``VmHWM`` when it has finished (launch, the days, the
invariant checks).

The "ratio" of each figure is peak / idle.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import Figure, backends

REPO = Path(__file__).resolve().parent.parent
API_TARGET = 2.0
PROVINCE_TARGET = 4.0
MB = 1024.0  # /proc reports kB


def proc_status_kb(pid: int, key: str) -> int:
    """A ``kB`` line of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(f"{key} not in /proc/{pid}/status")


def worker_pids(server_pid: int, workers: int) -> list[int]:
    """The processes that answer requests: the server itself with one worker, its children with several."""
    if workers == 1:
        return [server_pid]
    children = [int(p) for p in Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()]
    return [p for p in children if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()]


# ---- the API under B4's load ---------------------------------------------------------------------------

#: the readings of B4's runs in this process, by backend (B4 takes them; B7 reuses them when both run)
READINGS: dict[str, dict[str, Any]] = {}


class ServerMemory:
    """The resident memory of a B4 server's worker processes: ``idle()`` once started, ``peak()`` after the load."""

    def __init__(self, server_pid: int, workers: int) -> None:
        time.sleep(1.0)  # every worker up and settled
        self.pids = worker_pids(server_pid, workers)
        self.idle_kb = {pid: proc_status_kb(pid, "VmRSS") for pid in self.pids}
        self.peak_kb: dict[int, int] = {}

    def take_peak(self) -> None:
        # uvicorn replaces a worker that misses its health check (seen on a machine at load average 25): the
        # replaced one's peak is lost with it, and it is reported as such
        for pid in self.pids:
            try:
                self.peak_kb[pid] = proc_status_kb(pid, "VmHWM")
            except FileNotFoundError:
                continue

    def reading(self, workers: int, rounds: int, per_round: int) -> dict[str, Any]:
        alive = [p for p in self.pids if p in self.peak_kb]
        if not alive:
            raise RuntimeError("every worker of the server was replaced during the load: no peak to report")
        grew = max(alive, key=lambda p: self.peak_kb[p] / self.idle_kb[p])
        return {"workers": workers, "rounds": rounds, "requests_per_round": per_round,
                "idle_mb": self.idle_kb[grew] / MB, "peak_mb": self.peak_kb[grew] / MB,
                "idle_rss_mb": [round(self.idle_kb[p] / MB, 1) for p in alive],
                "peak_rss_mb": [round(self.peak_kb[p] / MB, 1) for p in alive],
                "workers_replaced_during_load": len(self.pids) - len(alive),
                "loadavg_1m": round(os.getloadavg()[0], 1)}


def api_figure(backend: str, reading: dict[str, Any]) -> Figure:
    workers = reading["workers"]
    label = f"{backend}, {workers} worker{'s' if workers > 1 else ''}"
    details = {k: v for k, v in reading.items() if k not in ("idle_mb", "peak_mb")}
    return Figure("B7", "memory API under B4 load", label, reading["peak_mb"], reading["idle_mb"], API_TARGET,
                  {"unit": "MB", **details})


def api_config(backend: str, root: Path, quick: bool) -> Figure:
    """B4's load on B4's server, for its memory only (when B4 did not run in this process)."""
    if backend not in READINGS:
        from bench.api import run_config

        run_config(backend, 1 if backend == "sqlite" else 4, root, quick)
    return api_figure(backend, READINGS[backend])


# ---- the province simulation ---------------------------------------------------------------------------

CHILD = """
import json, sys
from pathlib import Path

def kb(key):
    return next(int(l.split()[1]) for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(key + ":"))

from simulation import SimulationConfig, run_simulation
idle = kb("VmRSS")
result = run_simulation(SimulationConfig(**json.loads(sys.argv[1])))
print("RESULT " + json.dumps({"idle_kb": idle, "peak_kb": kb("VmHWM"), "ok": result.ok,
                              "days": result.summary.get("days")}))
"""


def province(root: Path, quick: bool) -> Figure:
    from bench.simulate import PROVINCE, run_child

    townships, villages = (20, 4) if quick else (PROVINCE["townships"], PROVINCE["villages"])
    days = int(os.environ.get("BENCH_PROVINCE_DAYS", "14")) or 14
    config = {"townships": townships, "villages": villages, "seed": 1, "days": days}
    found = run_child(root, CHILD, "var-memory", config)
    return Figure("B7", f"memory province simulation {found['days']} days", "sqlite", found["peak_kb"] / MB,
                  found["idle_kb"] / MB, PROVINCE_TARGET, {
                      "unit": "MB", "townships": townships, "villages_per_township": villages, "ok": found["ok"],
                      "process_wall_s": round(found["process_wall_s"], 1), "loadavg_1m": round(os.getloadavg()[0], 1)})


def run(root: Path, quick: bool) -> list[Figure]:
    figures = []
    for backend in backends():
        if "lost" in READINGS.get(backend, {}):
            print(f"B7 memory API under B4 load ({backend}): not measured: {READINGS[backend]['lost']}", file=sys.stderr)
            continue
        figures.append(api_config(backend, root, quick))
    figures.append(province(root, quick))
    return figures


def summary(figure: Figure) -> str:
    d = figure.details
    if "workers" in d:
        return (f"{figure.figure}: idle {', '.join(map(str, d['idle_rss_mb']))} MB → peak {', '.join(map(str, d['peak_rss_mb']))} MB "
                f"per worker over {d['rounds']} rounds of {d['requests_per_round']} requests to each B4 endpoint")
    return (f"{figure.figure}: {d['townships']} townships × {d['villages_per_township']} villages, idle {figure.baseline_s:.0f} MB "
            f"→ peak {figure.duban_s:.0f} MB in {d['process_wall_s']} s; invariants {'ok' if d['ok'] else 'FAILED'}")
