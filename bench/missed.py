"""What is known about a figure over its target: where its time goes (the profile in BENCHMARKS.md) and the
next step. ``make bench`` prints it under the table for every figure it reports as missed and stores it in
``bench/results.json`` beside the figure (``over_target``), so a run that misses says why and what comes next.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.common import Figure


@dataclass(frozen=True)
class Known:
    """The profile of a figure that has been over its target, and the next step."""

    benchmark: str
    name_starts: str  # the figure's name begins with this
    profile: str
    next_step: str


KNOWN: tuple[Known, ...] = (
    Known(
        "B5", "county year",
        "wall time at 20 townships on an idle machine (114 s, 7 Dec): delivery 40 % (16,291 mails through real "
        "SMTP; aiosmtpd's side of every exchange runs in a thread of the same process, 15 % of the samples, and "
        "escalation mails with their PDF take the generic email path), the liaisons' answers 21 % (≈ 24 "
        "statements each: the draft taken over, validated, saved, submitted, its deadline moved, the deciders "
        "read and mailed), the daily tick 19 % (more than half of it the ladder: 1,099 levels, a document rendered for each "
        "top level), the reviewers' decisions 13 %, the daily listings 5 %. The budget is a fixed 60 s, so "
        "the figure also moves with the machine (compare B1's raw-insert baseline of the same run)",
        "the simulation's SMTP server in a process of its own (as a real one is), so its parsing runs on the "
        "second CPU; prebuilt statements (bindparam) and plain-column reads on the answer and decision paths; one "
        "audit-and-outbox flush per transaction",
    ),
    Known(
        "B5", "province",
        "the launch of 1,000 campaigns is three quarters of the 14-day slice (Prefect's flow, planning and the bulk "
        "insert); the budget is a fixed share of 15 min, so the figure moves with the machine's speed",
        "the launch's per-township planning done once per definition and year for every township alike",
    ),
    Known(
        "B6", "model-site year",
        "duban's year is its per-action cost: at 200 townships (7 Dec, idle machine) answers 45 % (8.0 ms, 23 "
        "statements: the draft taken over, validated, saved, submitted, its deadline moved, the deciders read and "
        "mailed, two audit events), decisions 32 % (5.4 ms, 16 statements), the harness's transactions 9 %, the "
        "daily tick 13 %; most of the CPU is SQLAlchemy building, keying and loading statements. SpiffWorkflow "
        "keeps one ≈ 94 kB JSON state per workflow, read and rewritten at every step (0.83× at 1,000 townships, "
        "234 s against 283 s)",
        "prebuilt statements and plain-column reads on the answer and decision paths (the slot, context and "
        "deciders' reads as one statement each), the draft's save and its submission as one versioned write",
    ),
    Known(
        "B4", "api p99 dashboard",
        "≈ 11 statements and ≈ 11–14 ms of CPU per request on one worker; at 32 clients the p99 is the queue "
        "behind that CPU, against a bare route of ≈ 1 ms",
        "render the per-township rows without the template's per-cell filters; the figures block cached per "
        "audit head and day",
    ),
    Known(
        "B4", "api p99",
        "on PostgreSQL with 4 workers (7 Dec): duban's pages serve 136–181 requests/s with a p99 of 0.70–1.13 s, "
        "twice 6 December's (64–116/s, 1.33–2.10 s), but the bare route got faster still (p99 0.18–0.39 s from "
        "0.84–1.10 s, 370–520 requests/s): under 32 clients on 2 CPUs the p99 is the queue behind each request's "
        "CPU, serially 4.9–10 ms against the bare route's 2.6 ms (TestClient), with 3–8 statements. The review "
        "queue spends a third of its time in the one query that loads six entities per row (its submissions' JSON "
        "included), a fifth in the checklists",
        "load only the columns each page shows (no ORM entities for campaign, deadline and stage), so that a "
        "page costs at most ≈ 3× the bare route's CPU",
    ),
    Known(
        "B1", "launch",
        "Prefect's floor (a flow awaiting one no-op task per chunk) is about half of the launch; the work itself "
        "is planning, the duplicate check and the bulk insert of campaigns, stages, obligations and audit events",
        "one task run for the whole batch when it is small; the plan of a chunk computed once per definition "
        "and year (already) and its rows written with one statement per table",
    ),
)


def known_for(figure: Figure) -> Known | None:
    return next((k for k in KNOWN if k.benchmark == figure.benchmark and figure.name.startswith(k.name_starts)), None)


def over_target(figures: list[Figure]) -> list[str]:
    """One paragraph per missed figure: its ratio against the target, where the time goes and the next step
    (or that its profile is still to be taken). Also stored in the figure's details as ``over_target``."""
    out = []
    for figure in figures:
        if figure.passed:
            continue
        known = known_for(figure)
        text = (f"where the time goes: {known.profile}; next: {known.next_step}" if known
                else "no profile yet: take one (python -m bench.profile_launch, pyinstrument) before changing code")
        figure.details["over_target"] = text
        out.append(f"{figure.figure} is {figure.ratio:.2f}× against ≤ {figure.target_ratio:g}× — {text}")
    return out
