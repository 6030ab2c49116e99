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
        "per simulated action ≈ 18–25 SQL statements, most of the CPU in SQLAlchemy building and keying them; "
        "delivery ≈ a third of the CPU, mostly the standard library's email generator re-parsing every header "
        "when a message is flattened; the daily tick ≈ a third (one write transaction per step, every day)",
        "write the common mail's bytes directly and send them with sendmail (no flatten); prebuilt statements "
        "(bindparam) for the answer and decision paths; a tick step that finds nothing in one indexed probe",
    ),
    Known(
        "B6", "model-site year",
        "duban's year is its per-action cost (≈ 15–25 ms: statement construction in SQLAlchemy, one audit event "
        "and one outbox row per change) and a tick per day; SpiffWorkflow's is one JSON state per workflow, "
        "read and rewritten at every step — both grow linearly with the townships, so their ratio hardly moves "
        "with size",
        "the same per-action levers as B5 (prebuilt statements, fewer ORM entity loads per answer and decision)",
    ),
    Known(
        "B4", "api p99 dashboard",
        "≈ 11 statements and ≈ 11–14 ms of CPU per request on one worker; at 32 clients the p99 is the queue "
        "behind that CPU, against a bare route of ≈ 1 ms",
        "render the per-township rows without the template's per-cell filters; the figures block cached per "
        "audit head and day",
    ),
    Known(
        "B1", "launch",
        "Prefect's floor (a flow awaiting one no-op task per chunk) is most of the launch; the work itself is "
        "planning, the duplicate check and the bulk insert of campaigns, stages, obligations and audit events",
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
