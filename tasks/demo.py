"""The fictional demo county 清溪县, seeded the same way by `make run`, `duban seed-demo`, the scale-out script and
the benchmarks: its townships and villages, dispatching units, cadres and leaders, the 2027—2029 stationing
programme with its approved 2027 plan, the demo accounts and one item on the 督办 desk."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session

from tasks.accounts import seed_demo_users
from tasks.audit import SYSTEM, AuditActor, record
from tasks.cadres import seed_demo_people
from tasks.desk.demo import seed_demo_desk
from tasks.org import demo_county_rows, import_org_units
from tasks.stationing_demo import seed_demo_plan


def seed_demo(session: Session, now: dt.datetime, *, rows: list[tuple[int, dict[str, Any]]] | None = None,
              samples: bool = True, by: AuditActor = SYSTEM) -> dict[str, Any]:
    """Create or refresh the demo county (idempotent, by code); ``samples`` also seeds the stationing programme
    and an item on the 督办 desk (after the accounts, which the item's signing needs).
    What was done: the org import's counts, the people's counts and the accounts created (an audit event of
    ``by``, besides the accounts' own)."""
    org = import_org_units(session, rows if rows is not None else demo_county_rows(), source="demo")
    session.flush()
    people = seed_demo_people(session)
    if samples:
        seed_demo_plan(session, now)
    users = seed_demo_users(session, now)
    if samples:
        seed_demo_desk(session, now)
    record(session, by, "demo.seed", ("org_unit", 0), now=now,
           after={"org": org, "people": people, "users": [u["username"] for u in users], "samples": samples})
    return {"org": org, "people": people, "users": users}
