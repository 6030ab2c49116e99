"""The simulated county: N townships × M villages (seeded), their accounts and their behaviour profiles."""

from __future__ import annotations

import random
from typing import Any

from simulation.config import PROFILES
from tasks.org import demo_county_rows

TOWNSHIP_HEADS = "青白云金松龙梨石双凤桃柳清马黄新太平安永兴长富红东西南北"
TOWNSHIP_TAILS = ("镇", "乡")
PASSWORD = "simulation-only-2027"


def county_rows(seed: int, townships: int, villages: int) -> list[tuple[int, dict[str, Any]]]:
    """N townships × M villages (seeded), built on :func:`tasks.org.demo_county_rows`; townships past
    the twelve named ones get generated names instead of 第N乡."""
    rows = demo_county_rows(seed, townships, villages)
    rng = random.Random(f"township-names:{seed}")
    used = {row["name"] for _, row in rows if row["kind"] == "township"}
    for _, row in rows:
        if row["kind"] == "township" and row["name"].startswith("第"):
            while True:
                name = rng.choice(TOWNSHIP_HEADS) + rng.choice(TOWNSHIP_HEADS) + rng.choice(TOWNSHIP_TAILS)
                if name not in used:
                    used.add(name)
                    row["name"] = name
                    break
    return rows


def account_specs(township_codes: dict[str, str]) -> list[dict[str, Any]]:
    """The demo users' pattern (tasks/accounts.py): an admin, a county reviewer, and per township one
    liaison (submitter) and one secretary (township reviewer)."""
    users: list[dict[str, Any]] = [
        {"username": "admin", "display_name": "县委组织部组织科", "role": "admin", "unit": "QX", "email": "zzb@sim.example"},
        {"username": "county-reviewer", "display_name": "县委组织部审核员", "role": "reviewer", "level": "county",
         "unit": "QX", "email": "shenhe@sim.example"},
    ]
    for code, name in township_codes.items():
        lower = code.lower()
        users.append({"username": f"{lower}-liaison", "display_name": f"{name}党建联络员", "role": "submitter",
                      "unit": code, "email": f"{lower}-liaison@sim.example"})
        users.append({"username": f"{lower}-secretary", "display_name": f"{name}党委审核人", "role": "reviewer",
                      "level": "township", "unit": code, "email": f"{lower}-secretary@sim.example"})
    for user in users:
        user["password"] = PASSWORD
    return users


def township_codes(townships: int) -> list[str]:
    """The codes :func:`county_rows` gives its townships: QX01, QX02, …"""
    return [f"QX{t + 1:02d}" for t in range(townships)]


def township_profiles(seed: int, codes: list[str], shares: dict[str, float]) -> dict[str, str]:
    """Each township's behaviour: the shares are met as closely as the count allows, then shuffled."""
    total = sum(shares.values())
    counts = {p: int(len(codes) * shares[p] / total) for p in PROFILES}
    rest = len(codes) - sum(counts.values())
    by_fraction = sorted(PROFILES, key=lambda p: -(len(codes) * shares[p] / total - counts[p]))
    for p in by_fraction[:rest]:
        counts[p] += 1
    pool = [p for p in PROFILES for _ in range(counts[p])]
    random.Random(f"profiles:{seed}").shuffle(pool)
    return dict(zip(sorted(codes), pool, strict=True))
