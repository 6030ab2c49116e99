"""Where B1's time goes: ``python -m bench.profile_launch [sqlite|postgresql]`` (not part of ``make bench``).

Prefect runs each chunk's ``tasks.launch.launch_many`` in a worker thread, which cProfile does not
see; so this runs the same ``launch_many`` calls, chunk by chunk, in the main thread under cProfile,
on a freshly seeded database, then the real flow on another one, and prints:

* the split of the direct run between loading the context, planning (pure domain code), writing (the chunk's
  multi-row inserts and audit events) and commits;
* the flow's time minus the direct run's (what Prefect's flow and task runs add);
* the functions with the most cumulative and own time (the full profile goes to ``$BENCH_PROFILE_OUT``,
  default ``bench/launch-<backend>.prof``; open it with ``python -m pstats`` or snakeviz).
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import cleanup_environment, configure_environment


def _timed(bucket: dict[str, float], key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            bucket[key] = bucket.get(key, 0.0) + time.perf_counter() - start

    return wrapper


def profile_backend(backend: str, root: Path, townships: int) -> None:
    from sqlmodel import Session

    import tasks.launch as tl
    from bench.common import temp_databases
    from bench.launch import DEFINITION, NOW, YEAR, run_launch, seed_county, warm_up
    from core.db import get_engine, reset_engines
    from core.settings import get_settings

    warm_up(root)
    size = get_settings().launch_chunk_size
    phases: dict[str, float] = {}
    profiler = cProfile.Profile()
    with temp_databases(backend, root) as dbs:

        def direct(label: str, profile: bool) -> float:
            """launch_many chunk by chunk in this thread, as the flow's tasks do in theirs."""
            seed_county(dbs.create(label), townships)
            engine = get_engine()
            with Session(engine) as session:
                codes = tl.all_township_codes(session)
            start = time.perf_counter()
            if profile:
                profiler.enable()
            for i in range(0, len(codes), size):
                tl.launch_many(engine, DEFINITION, codes[i : i + size], YEAR, NOW)
            if profile:
                profiler.disable()
            elapsed = time.perf_counter() - start
            reset_engines()
            return elapsed

        # 1. unprofiled, with the phases timed
        originals = (tl.plan_for, tl.write_campaigns, tl.load_context)
        real_commit = Session.commit
        tl.plan_for = _timed(phases, "plan (domain.planning)", tl.plan_for)  # type: ignore[assignment]
        tl.write_campaigns = _timed(phases, "write (multi-row inserts, audit)", tl.write_campaigns)  # type: ignore[assignment]
        tl.load_context = _timed(phases, "load context", tl.load_context)  # type: ignore[assignment]
        Session.commit = _timed(phases, "commit", real_commit)  # type: ignore[method-assign]
        try:
            direct_s = direct("direct", profile=False)
        finally:
            tl.plan_for, tl.write_campaigns, tl.load_context = originals  # type: ignore[assignment]
            Session.commit = real_commit  # type: ignore[method-assign]
        # 2. under cProfile
        profiled_s = direct("profiled", profile=True)
        # 3. the real flow, as B1 times it
        seed_county(dbs.create("flow"), townships)
        flow_s, _ = run_launch()

    print(f"\n== {backend}: {townships} townships, chunk size {size}")
    print(f"flow (timed like B1)            {flow_s:8.3f} s")
    print(f"direct launch_many              {direct_s:8.3f} s  (flow - direct = {flow_s - direct_s:.3f} s of Prefect)")
    for key, seconds in sorted(phases.items(), key=lambda kv: -kv[1]):
        print(f"  {key:<30}{seconds:8.3f} s")
    out = Path(os.environ.get("BENCH_PROFILE_OUT", f"bench/launch-{backend}.prof"))
    profiler.dump_stats(out)
    print(f"direct launch_many, profiled    {profiled_s:8.3f} s  (cProfile's own overhead included)")
    for order in ("cumulative", "tottime"):
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats(order).print_stats(30)
        print(f"\n-- top 30 by {order} --")
        print(buf.getvalue().split("\n", 6)[-1])
    print(f"profile written to {out}")


def main() -> int:
    root = configure_environment()
    from bench.common import backends
    from bench.launch import township_count

    wanted = sys.argv[1:] or backends()
    try:
        for backend in wanted:
            profile_backend(backend, root, township_count())
    finally:
        cleanup_environment()
    return 0


if __name__ == "__main__":
    sys.exit(main())
