"""Accountability cases (问责): open → decided → closed, with the decision an administrator enters.

The sanctions are the ones the documents name: admonishment talks (诫勉谈话) and temporary suspension
of village cadres (歇职, 001_f75fa13ad74f73f9.txt), notices of criticism (通报批评, 003/004) and the
rule that a unit which did not finish its work cannot be rated excellent or good (不得评定优秀、良好,
003_0d1c8490fe7db56e.txt). A decision that affects ratings is recorded with the year it applies to,
so the year-end rating can read it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from domain.errors import InvalidTransition, ValidationFailed
from domain.vocabulary import CaseStatus

DECISIONS = {
    "admonishment": "诫勉谈话",
    "criticism": "通报批评",
    "rating_downgrade": "不得评定优秀、良好",
    "suspension": "歇职",
    "no_action": "免予问责",
}
# What each decision does to the township's year-end rating.
RATING_EFFECTS = {
    "rating_downgrade": "not_excellent_or_good",
    "criticism": "not_excellent",
}
RATING_EFFECT_LABELS = {"not_excellent_or_good": "不得评定为优秀、良好等次", "not_excellent": "不得评定为优秀等次"}


@dataclass(frozen=True)
class CaseState:
    status: str
    decision: str | None = None
    rating_effect: str | None = None
    rating_year: int | None = None
    suspension_days: int | None = None


def decide(state: CaseState, decision: str, note: str, rating_year: int, suspension_days: int | None = None) -> CaseState:
    """Record the decision on an open case."""
    if state.status != CaseStatus.OPEN:
        raise InvalidTransition(f"问责案件当前状态为“{CaseStatus.label_of(state.status)}”，不能再作决定")
    if decision not in DECISIONS:
        raise ValidationFailed(f"decision 只能是 {'、'.join(DECISIONS)}",
                               errors=[{"field": "decision", "message": f"可选：{'、'.join(f'{k}（{v}）' for k, v in DECISIONS.items())}"}])
    if not note.strip():
        raise ValidationFailed("请填写问责决定的理由和依据", errors=[{"field": "note", "message": "required"}])
    if decision == "suspension":
        if suspension_days is None or not 1 <= suspension_days <= 365:
            raise ValidationFailed("歇职须写明天数（1–365天）", errors=[{"field": "suspension_days", "message": "1–365"}])
    elif suspension_days is not None:
        raise ValidationFailed("只有歇职决定需要天数", errors=[{"field": "suspension_days", "message": "only for suspension"}])
    effect = RATING_EFFECTS.get(decision)
    return replace(state, status=CaseStatus.DECIDED, decision=decision, rating_effect=effect,
                   rating_year=rating_year if effect else None, suspension_days=suspension_days)


def close(state: CaseState, note: str) -> CaseState:
    """Close a decided case once the decision has been carried out."""
    if state.status != CaseStatus.DECIDED:
        raise InvalidTransition("只有已作出决定的问责案件可以结案")
    if not note.strip():
        raise ValidationFailed("请说明决定的执行情况", errors=[{"field": "note", "message": "required"}])
    return replace(state, status=CaseStatus.CLOSED)
