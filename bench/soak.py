"""``make soak``: the process-level tests of ``make test`` at their large sizes, one table of what was tried and
what was lost or duplicated, written to ``bench/soak.json``.

Each *part* is one pytest run of an existing test module with its sizes raised through the environment
(tests/support/soak.py); the tests append what they tried and found to a record file, pytest's JUnit report
says what passed:

- ``crash-sqlite``, ``crash-postgresql``: every kill point of tests/flows/test_kill_points.py × ``--cycles``
  (a cycle resumes the job, so a short job can finish before its last cycle: the SIGKILLs are counted);
- ``race-sqlite``, ``race-postgresql``: tests/flows/test_process_races.py with ``--parties`` racers (one test per
  count) and ``--race-years`` campaign years of launches and decisions raced;
- ``fuzz-sqlite``, ``fuzz-postgresql``: tests/api/test_fuzz.py with ``--fuzz-examples`` cases per operation and mode;
- ``simulation``: the ``soak``-marked test of tests/simulation/test_simulate.py, a county through three campaign
  years with every fault on.

``--parts crash,race`` (``make soak SOAK_PARTS=crash,race``) runs only those (a prefix names both databases); the
other parts keep their last results in ``bench/soak.json``, marked with the date they ran. ``--jobs`` parts run
at once (two race parts never together: each already loads both CPUs with up to ten processes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.__main__ import machine_info

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "soak.json"
QUICK_RESULTS = RESULTS.with_name("soak-quick.json")
HEADERS = ("part", "database", "size", "tried", "lost", "duplicated", "errors", "time")


@dataclass
class Sizes:
    cycles: int = 20
    parties: str = "2-10"
    race_years: int = 4
    fuzz_examples: int = 25
    sim_townships: int = 8
    sim_villages: int = 4

    @classmethod
    def quick(cls) -> Sizes:
        return cls(cycles=4, parties="2,5", race_years=1, fuzz_examples=5, sim_townships=2, sim_villages=2)


@dataclass
class Part:
    name: str
    backend: str
    target: list[str]  # pytest arguments: files, node ids, -k / -m
    env: dict[str, str]
    size: str
    exclusive: str | None = None  # parts of one group never run at the same time
    extra: dict[str, Any] = field(default_factory=dict)


def parts(sizes: Sizes) -> list[Part]:
    race_env = {"DUBAN_RACE_PARTIES": sizes.parties, "DUBAN_RACE_YEARS": str(sizes.race_years)}
    crash_env = {"DUBAN_CRASH_CYCLES": str(sizes.cycles)}
    fuzz_env = {"DUBAN_FUZZ_EXAMPLES": str(sizes.fuzz_examples)}
    races = "tests/flows/test_process_races.py::test_races_between_processes_are_won_once"
    return [
        Part(f"race-{db}", db, [races, "-k", db], race_env,
             f"{sizes.parties} racers, {sizes.race_years} campaign year(s)", exclusive="race")
        for db in ("sqlite", "postgresql")
    ] + [
        Part(f"crash-{db}", db, ["tests/flows/test_kill_points.py", "-k", db], crash_env,
             f"16 kill points × {sizes.cycles} SIGKILLs")
        for db in ("sqlite", "postgresql")
    ] + [
        Part(f"fuzz-{db}", db, ["tests/api/test_fuzz.py", "-k", db], fuzz_env,
             f"{sizes.fuzz_examples} cases per operation and mode")
        for db in ("sqlite", "postgresql")
    ] + [
        Part("simulation", "sqlite", ["tests/simulation/test_simulate.py", "-m", "soak"],
             {"DUBAN_SOAK": "1", "DUBAN_SOAK_SIM_TOWNSHIPS": str(sizes.sim_townships),
              "DUBAN_SOAK_SIM_VILLAGES": str(sizes.sim_villages)},
             f"{sizes.sim_townships} townships × {sizes.sim_villages} villages, 3 campaign years, every fault"),
    ]


def select_parts(all_parts: list[Part], wanted: str | None) -> list[Part]:
    if not wanted:
        return all_parts
    names = [w.strip() for w in wanted.split(",") if w.strip()]
    chosen = [p for p in all_parts if any(p.name == n or p.name.startswith(n + "-") for n in names)]
    unknown = [n for n in names if not any(p.name == n or p.name.startswith(n + "-") for p in all_parts)]
    if unknown:
        raise SystemExit(f"unknown soak part(s): {', '.join(unknown)}; choose from {', '.join(p.name for p in all_parts)}")
    return chosen


# --- running a part ------------------------------------------------------------------------------------------


@dataclass
class Running:
    part: Part
    proc: subprocess.Popen[bytes] | None
    record: Path
    junit: Path
    log: Path
    started: float


def files(part: Part, workdir: Path) -> tuple[Path, Path, Path, Path]:
    """The part's record, JUnit report, log and start time (seconds since the epoch) under ``workdir``."""
    record, junit, log, started = (workdir / f"{part.name}{suffix}" for suffix in (".jsonl", ".xml", ".log", ".started"))
    return record, junit, log, started


def start(part: Part, workdir: Path) -> Running:
    record, junit, log, started = files(part, workdir)
    for stale in (record, junit):
        stale.unlink(missing_ok=True)
    started.write_text(f"{time.time():.1f}\n", encoding="utf-8")
    env = dict(os.environ, **part.env, DUBAN_SOAK_RECORD=str(record), PYTHONPATH=str(REPO))
    if part.backend == "postgresql":
        env["DUBAN_TEST_POSTGRES"] = "required"  # a soak that silently skipped PostgreSQL would prove nothing
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}",
           *part.target]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    print(f"[soak] {part.name}: started ({' '.join(part.target)})", flush=True)
    return Running(part, proc, record, junit, log, time.monotonic())


def adopt(part: Part, workdir: Path, finished_only: bool) -> dict[str, Any] | None:
    """The outcome of a part that ran earlier (``--adopt``: a soak resumed after an interruption), from what it left
    under ``workdir``: finished if its JUnit report is there, else (unless ``finished_only``) what its tests
    recorded so far, marked unfinished."""
    record, junit, log, started = files(part, workdir)
    if not started.exists() or not (junit.exists() or (record.exists() and not finished_only)):
        return None
    began = float(started.read_text(encoding="utf-8"))
    end = junit.stat().st_mtime if junit.exists() else record.stat().st_mtime
    result = outcome(Running(part, None, record, junit, log, 0.0), 0, round(end - began, 1))
    result["adopted"] = True
    if not junit.exists():
        result["unfinished"] = True
        result["size"] += f" (unfinished: {len(result['records'])} tests recorded)"
    return result


def outcome(run: Running, returncode: int, seconds: float | None = None) -> dict[str, Any]:
    """What one part tried and found: its records summed, its tests' results, its time."""
    if seconds is None:
        seconds = round(time.monotonic() - run.started, 1)
    records = [json.loads(line) for line in run.record.read_text(encoding="utf-8").splitlines()] \
        if run.record.exists() else []
    tests = failures = skipped = 0
    if run.junit.exists():
        suite = ET.parse(run.junit).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")  # type: ignore[assignment]
        if suite is not None:
            tests = int(suite.get("tests", 0))
            failures = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            skipped = int(suite.get("skipped", 0))
    errors = [r["error"] for r in records if r.get("error")]
    result: dict[str, Any] = {
        "part": run.part.name, "database": run.part.backend, "size": run.part.size, "seconds": seconds,
        "pytest": {"returncode": returncode, "tests": tests, "failed": failures, "skipped": skipped},
        "lost": sum(int(r.get("lost", 0)) for r in records),
        "duplicated": sum(int(r.get("duplicated", 0)) for r in records),
        # a failed test that recorded nothing (it broke before its first check) still counts
        "errors": max(len(errors), failures) + (returncode not in (0, 5) and failures == 0),
        "error_samples": errors[:5],
        "records": records,
        "env": run.part.env,
    }
    kind = run.part.name.split("-")[0]
    if kind == "crash":
        points = len(records)
        result["tried"] = {"kill_points": points, "cycles": sum(r["cycles"] for r in records),
                           "sigkills": sum(r["kills"] for r in records),
                           "fewest_per_point": min((r["kills"] for r in records), default=0),
                           "rounds": sum(r.get("rounds", 1) for r in records)}
        result["tried_text"] = (f"{points} points, {result['tried']['sigkills']} SIGKILLs "
                                f"(≥{result['tried']['fewest_per_point']} each; {result['tried']['cycles']} cycles, "
                                f"{result['tried']['rounds']} runs of the job)")
    elif kind == "race":
        trials = sum(int(r["trials"]) for r in records)
        result["tried"] = {"trials": trials, "tests": len(records),
                           "parties": sorted({int(r["parties"]) for r in records})}
        parties = result["tried"]["parties"]
        span = f"{parties[0]}–{parties[-1]}" if len(parties) > 1 else ",".join(map(str, parties))
        result["tried_text"] = f"{trials} races ({span} racers)"
    elif kind == "fuzz":
        cases = sum(int(r["cases"]) for r in records)
        server_errors = sum(int(r["server_errors"]) for r in records)
        failed_checks = sum(int(r["failed_checks"]) for r in records)
        result["tried"] = {"cases": cases, "operations": max((int(r["operations"]) for r in records), default=0),
                           "server_errors": server_errors, "failed_checks": failed_checks}
        result["tried_text"] = f"{cases} cases, {result['tried']['operations']} operations"
        result["errors"] = max(result["errors"], server_errors + failed_checks)
    else:
        r = records[0] if records else {}
        result["tried"] = {k: r.get(k) for k in ("days", "townships", "villages", "obligations", "mail", "received",
                                                   "invariants", "faults")}
        result["tried_text"] = (f"{r.get('days', 0)} days, {r.get('obligations', 0)} deadlines, "
                                f"{r.get('mail', 0)} mails, {r.get('invariants', 0)} invariants")
    return result


# The order parts start in: the longest first (the races run one after the other), so that the soak ends soon
# after its longest chain.
START_ORDER = ("race-sqlite", "simulation", "crash-postgresql", "race-postgresql", "crash-sqlite", "fuzz-sqlite",
               "fuzz-postgresql")


def run_parts(chosen: list[Part], jobs: int, workdir: Path) -> list[dict[str, Any]]:
    pending = sorted(chosen, key=lambda p: START_ORDER.index(p.name) if p.name in START_ORDER else len(START_ORDER))
    running, done = list[Running](), list[dict[str, Any]]()
    while pending or running:
        busy = {r.part.exclusive for r in running if r.part.exclusive}
        while pending and len(running) < jobs:
            nxt = next((p for p in pending if p.exclusive is None or p.exclusive not in busy), None)
            if nxt is None:
                break
            pending.remove(nxt)
            running.append(start(nxt, workdir))
            busy = {r.part.exclusive for r in running if r.part.exclusive}
        time.sleep(1.0)
        for run in list(running):
            assert run.proc is not None
            code = run.proc.poll()
            if code is None:
                continue
            running.remove(run)
            result = outcome(run, code)
            done.append(result)
            print(f"[soak] {run.part.name}: {result['tried_text']}; lost {result['lost']}, duplicated "
                  f"{result['duplicated']}, errors {result['errors']} ({result['seconds']:.0f} s; log {run.log.relative_to(REPO)})",
                  flush=True)
    order = [p.name for p in chosen]
    return sorted(done, key=lambda r: order.index(r["part"]))


# --- the table and the file ----------------------------------------------------------------------------------


def table(results: list[dict[str, Any]]) -> str:
    rows = [HEADERS] + [
        (r["part"].split("-")[0], r["database"], r["size"], r["tried_text"], str(r["lost"]), str(r["duplicated"]),
         str(r["errors"]), _duration(r["seconds"]) + (f" (from {r['carried_over_from'][:10]})"
                                                      if r.get("carried_over_from") else ""))
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def carried_over(path: Path, ran: set[str]) -> list[dict[str, Any]]:
    """The parts not run now, from the previous soak.json (marked with its date)."""
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [{**p, "carried_over_from": p.get("carried_over_from", previous.get("date"))}
            for p in previous.get("parts", []) if p.get("part") not in ran]


def parse_args(argv: list[str]) -> argparse.Namespace:
    full = Sizes()
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default=os.environ.get("SOAK_PARTS") or None,
                        help="comma-separated parts or kinds (crash, race, fuzz, simulation); default: all")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("SOAK_JOBS") or 2), help="parts at once")
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run (written to soak-quick.json)")
    parser.add_argument("--adopt", action="store_true",
                        help="resume: take the parts that finished earlier from var/soak instead of running them")
    parser.add_argument("--adopt-only", action="store_true",
                        help="run nothing: the table of what var/soak holds, unfinished parts with what they recorded")
    parser.add_argument("--cycles", type=int, help=f"SIGKILL cycles per kill point (default {full.cycles})")
    parser.add_argument("--parties", help=f"racer counts, e.g. 2-10 or 2,4 (default {full.parties})")
    parser.add_argument("--race-years", type=int, help=f"campaign years raced (default {full.race_years})")
    parser.add_argument("--fuzz-examples", type=int, help=f"cases per operation and mode (default {full.fuzz_examples})")
    parser.add_argument("--sim-townships", type=int, help=f"default {full.sim_townships}")
    parser.add_argument("--sim-villages", type=int, help=f"villages per township (default {full.sim_villages})")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    sizes = Sizes.quick() if args.quick else Sizes()
    for name in ("cycles", "parties", "race_years", "fuzz_examples", "sim_townships", "sim_villages"):
        if getattr(args, name) is not None:
            setattr(sizes, name, getattr(args, name))
    chosen = select_parts(parts(sizes), args.parts)
    started = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()
    clock = time.monotonic()
    workdir = REPO / "var" / "soak"  # each part's log, record and JUnit report (kept: var/ is not committed)
    workdir.mkdir(parents=True, exist_ok=True)
    adopted = []
    if args.adopt or args.adopt_only:
        adopted = [r for r in (adopt(p, workdir, finished_only=not args.adopt_only) for p in chosen) if r is not None]
        chosen = [p for p in chosen if p.name not in {r["part"] for r in adopted}]
    results = adopted + ([] if args.adopt_only else run_parts(chosen, max(1, args.jobs), workdir))
    elapsed = time.monotonic() - clock
    starts = [float(files(p, workdir)[3].read_text(encoding="utf-8")) for p in parts(sizes)
              if p.name in {r["part"] for r in results} and files(p, workdir)[3].exists()]
    if adopted and starts:  # the soak began with the earliest part it adopted
        elapsed = time.time() - min(starts)
        started = dt.datetime.fromtimestamp(min(starts), dt.UTC)
    out = QUICK_RESULTS if args.quick else RESULTS
    everything = results + carried_over(out, {r["part"] for r in results})
    order = [p.name for p in parts(sizes)]
    everything.sort(key=lambda r: order.index(r["part"]) if r["part"] in order else len(order))
    print()
    print(table(everything))
    lost = sum(r["lost"] for r in everything)
    duplicated = sum(r["duplicated"] for r in everything)
    errors = sum(r["errors"] for r in everything)
    how = ("assembled from what the parts left under var/soak" if args.adopt_only
           else f"with {args.jobs} part(s) at once, load average {load_before[0]:.1f} → {os.getloadavg()[0]:.1f}")
    print(f"\nlost {lost}, duplicated {duplicated}, errors {errors}; this run: {_duration(elapsed)} {how}")
    doc = {
        "date": started.isoformat(timespec="seconds"),
        "machine": machine_info(),
        "command": " ".join([Path(sys.executable).name, "-m", "bench.soak", *(sys.argv[1:] if argv is None else argv)]),
        "quick": args.quick,
        "jobs": args.jobs,
        "seconds": round(elapsed, 1),
        "load_average": {"start": [round(x, 2) for x in load_before], "end": [round(x, 2) for x in os.getloadavg()]},
        "totals": {"lost": lost, "duplicated": duplicated, "errors": errors},
        "table": table(everything),
        "parts": everything,
    }
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"written {out.relative_to(REPO)}")
    return 0 if lost == duplicated == errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
