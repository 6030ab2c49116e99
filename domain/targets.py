"""Targets (指标): whether a campaign meets the goals its definition sets, decided from the figures gathered for it.

The documents set the goals — 000 §二: at least 2 activists in every weak village at all times, at least 1 new
member a year, no village two years running without one, 80% of villages at the five-good standard; 002 §二: 90%
satisfaction, 80% of members without posts taking one, 5 reserve talents, 3 new members under 30 …; 003 §二: 75%
cross-appointment, 2 reserve cadres per village, 30,000 yuan collective income … — and the definitions declare
them (``domain.definitions.Target``). ``tasks.targets`` reads the figures (approved submissions, the org data, the
campaigns of the years before); this module only compares, with no I/O: met (达标), not met (未达标), no data
(无数据) or no threshold set yet (目标值待设定, where a document leaves the number blank)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from domain.definitions import Target
from domain.hollow import DEFAULT_BOILERPLATE, is_hollow
from domain.schema import UNIT_SUFFIX
from domain.vocabulary import TargetStatus

AGGREGATION_LABELS = {"per_township": "全乡镇", "per_village": "每个村", "share_of_villages": "村占比"}
PERIOD_LABELS = {"year": "每年", "half_year": "每半年", "campaign": "督办周期内", "three_years": "三年内",
                 "five_years": "五年内"}
COMPARISON_SIGNS = {">=": "≥", "<=": "≤"}


@dataclass(frozen=True)
class Reading:
    """One figure and where it came from: ``label`` says what it is about (a village, a reporting period),
    ``code`` is the village's code, ``previous`` its figures of the years before (latest first; ``None`` where
    that year has none) when the target counts years running."""

    value: float | None
    evidence: str
    label: str = ""
    code: str = ""
    previous: tuple[float | None, ...] = ()


@dataclass(frozen=True)
class TargetFacts:
    """What was found for one target of one campaign: its ``readings`` (one per approved submission for a
    per-township target, one per covered village for a per-village one, the villages listed for a share),
    the number of the township's villages (a share's denominator) and, when nothing was found, why."""

    readings: tuple[Reading, ...] = ()
    villages_total: int = 0
    missing: str = ""


@dataclass(frozen=True)
class TargetResult:
    """A target as a reviewer reads it: the requirement, the status, the value found, what falls short and the
    evidence (which submission, which field, or the org data), and the document it comes from."""

    key: str
    name: str
    requirement: str
    status: TargetStatus
    value: str
    figure: float | None
    shortfalls: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    source: str = ""
    aggregation: str = ""
    period: str = ""
    unit: str = ""
    threshold: float | None = None
    comparison: str = ">="
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of the API, with the status's Chinese label."""
        out = asdict(self)
        out["status"] = str(self.status)
        out["status_label"] = self.status.label
        out["shortfalls"], out["evidence"] = list(self.shortfalls), list(self.evidence)
        return out


def meets(value: float, comparison: str, threshold: float) -> bool:
    """Whether ``value`` satisfies ``comparison`` (``>=`` or ``<=``) against ``threshold``."""
    return value >= threshold if comparison == ">=" else value <= threshold


def show_number(value: float | None, unit: str = "") -> str:
    """``93.5%``, ``3``, ``30000元``: whole numbers without decimals, others to one decimal."""
    if value is None:
        return "无数据"
    text = str(int(value)) if float(value).is_integer() else f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{text}{UNIT_SUFFIX.get(unit, '')}"


def requirement(target: Target) -> str:
    """``每个村 ≥ 2``, ``全乡镇 ≥ 90%``; ``（目标值待设定）`` where the document leaves the number blank."""
    who = "每个整顿村" if target.villages == "listed" else AGGREGATION_LABELS[target.aggregation]
    if target.threshold is None:
        return f"{who}（目标值待设定）"
    years = f"，不得连续{target.consecutive_years}年未达到" if target.consecutive_years else ""
    return f"{who} {COMPARISON_SIGNS[target.comparison]} {show_number(target.threshold, target.unit)}{years}"


_NAME_SEPARATORS = re.compile(r"[、，,；;/／\n]+")


def count_names(text: str | None) -> int:
    """How many names a text lists (县农业农村局、县供销社 → 2); stock phrases such as 无 or 暂无 name nobody."""
    if not text:
        return 0
    return sum(1 for item in _NAME_SEPARATORS.split(text) if not is_hollow(item, DEFAULT_BOILERPLATE, 2))


def period_label(period: str) -> str:
    """A deadline's period as the county writes it: ``2025`` → 2025年, ``2025Q4`` → 2025年第4季度,
    ``2025-06`` → 2025年6月, ``2025-W40`` → 2025年第40周."""
    if m := re.fullmatch(r"(\d{4})Q(\d)", period):
        return f"{m[1]}年第{m[2]}季度"
    if m := re.fullmatch(r"(\d{4})-W(\d{2})", period):
        return f"{m[1]}年第{int(m[2])}周"
    if m := re.fullmatch(r"(\d{4})-(\d{2})", period):
        return f"{m[1]}年{int(m[2])}月"
    return f"{period}年" if re.fullmatch(r"\d{4}", period) else period


def evaluate(target: Target, facts: TargetFacts) -> TargetResult:
    """The target's standing on ``facts``; a target without a threshold (blank in the documents) shows its
    figures, if any, and waits for the county to set one."""
    base = TargetResult(
        key=target.key, name=target.name, requirement=requirement(target), value="无数据",
        status=TargetStatus.NO_DATA if target.threshold is not None else TargetStatus.UNSET,
        figure=None, evidence=tuple(dict.fromkeys(r.evidence for r in facts.readings if r.evidence)) or
        ((facts.missing,) if facts.missing else ()), source=target.source or "", aggregation=target.aggregation,
        period=PERIOD_LABELS[target.period], unit=target.unit, threshold=target.threshold, comparison=target.comparison,
    )
    if target.aggregation == "share_of_villages":
        return _share(target, facts, base)
    if target.aggregation == "per_village":
        return _per_village(target, facts, base)
    return _per_township(target, facts, base)


def _replace(base: TargetResult, **changes: Any) -> TargetResult:
    return TargetResult(**(asdict(base) | changes))


def _judged(target: Target, base: TargetResult, value: str, figure: float | None, failing: list[str],
            unknown: bool, **details: Any) -> TargetResult:
    """The verdict once the figures are read: unset without a threshold, not met when something fails, no data
    when part is unknown, met otherwise."""
    if target.threshold is None:
        status = TargetStatus.UNSET
    elif failing:
        status = TargetStatus.NOT_MET
    else:
        status = TargetStatus.NO_DATA if unknown else TargetStatus.MET
    return _replace(base, status=status, value=value, figure=figure, shortfalls=tuple(failing), details=details)


def _per_township(target: Target, facts: TargetFacts, base: TargetResult) -> TargetResult:
    """Every approved submission's figure must meet the threshold (each half-year's report, say)."""
    known = [r for r in facts.readings if r.value is not None]
    if not known:
        return base
    shown = [f"{r.label}：{show_number(r.value, target.unit)}" if r.label and len(facts.readings) > 1
             else show_number(r.value, target.unit) for r in facts.readings]
    failing = [s for r, s in zip(facts.readings, shown, strict=True) if r.value is not None and target.threshold is not None
               and not meets(r.value, target.comparison, target.threshold)]
    worst = min(r.value for r in known if r.value is not None) if target.comparison == ">=" else \
        max(r.value for r in known if r.value is not None)
    return _judged(target, base, "；".join(shown), worst, failing, len(known) < len(facts.readings))


def _share(target: Target, facts: TargetFacts, base: TargetResult) -> TargetResult:
    """The villages a submission lists as meeting the standard, as a percent of the township's villages."""
    if not facts.readings or facts.readings[0].value is None:
        return base
    if facts.villages_total <= 0:
        return _replace(base, evidence=(*base.evidence, "组织机构数据中本乡镇没有村"))
    count = facts.readings[0].value
    share = round(100 * count / facts.villages_total, 1)
    value = f"{show_number(share, 'percent')}（{show_number(count)}/{facts.villages_total}个村）"
    failing = [value] if target.threshold is not None and not meets(share, target.comparison, target.threshold) else []
    return _judged(target, base, value, share, failing, False, villages=facts.readings[0].label)


def _per_village(target: Target, facts: TargetFacts, base: TargetResult) -> TargetResult:
    """Every covered village must meet the threshold; with ``consecutive_years`` a village fails only when it
    missed it that many years running (a year without figures does not count against it)."""
    if not facts.readings or all(r.value is None for r in facts.readings):
        return base if facts.readings or facts.missing else _replace(base, evidence=("本年度没有需要考核的村",))
    missing = [r.label for r in facts.readings if r.value is None]
    threshold = target.threshold
    failing = []
    for r in facts.readings:
        if r.value is None or threshold is None or meets(r.value, target.comparison, threshold):
            continue
        before = r.previous[: (target.consecutive_years or 1) - 1]
        if target.consecutive_years and (len(before) < target.consecutive_years - 1
                                         or any(v is None or meets(v, target.comparison, threshold) for v in before)):
            continue
        history = "、".join(show_number(v, target.unit) for v in before)
        failing.append(f"{r.label}：{show_number(r.value, target.unit)}" + (f"（此前：{history}）" if history else ""))
    total = len(facts.readings)
    if target.consecutive_years:
        value = f"连续{target.consecutive_years}年未达到的村 {len(failing)} 个（共 {total} 个村）"
    else:
        value = f"{total - len(missing) - len(failing)}/{total} 个村达到"
    if missing:
        value += f"，{len(missing)} 个村无数据（{'、'.join(missing[:10])}）"
    return _judged(target, base, value, float(total - len(missing) - len(failing)), failing, bool(missing),
                   villages={r.code or r.label: r.value for r in facts.readings})
