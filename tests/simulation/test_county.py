"""The generated county and the townships' behaviour profiles are seeded."""

from __future__ import annotations

from collections import Counter

from simulation import county_rows, township_profiles


def test_the_generated_county_and_profiles_are_seeded() -> None:
    rows = county_rows(5, 14, 3)
    assert rows == county_rows(5, 14, 3)
    towns = [r for _, r in rows if r["kind"] == "township"]
    assert len(towns) == 14 and len({t["name"] for t in towns}) == 14
    assert not any(t["name"].startswith("第") for t in towns)
    assert sum(1 for _, r in rows if r["kind"] == "village") == 14 * 3
    profiles = township_profiles(5, [f"QX{i:02d}" for i in range(1, 11)],
                                 {"on_time": 0.6, "late": 0.2, "never": 0.1, "hollow": 0.1})
    assert Counter(profiles.values()) == Counter({"on_time": 6, "late": 2, "never": 1, "hollow": 1})
