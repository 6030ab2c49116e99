"""A weak village's rectification: rectify one, succeed with one, consolidate one, close one
(整改一个、成功一个、巩固一个、销号一个, 004_7c184efb1f3c43f7.txt).

rectifying → applied → (accept) consolidating → closed (销号) once the consolidation period ends
                    ↘ (fail) rectifying: the village keeps its stationed cadres and helping unit
                      until it passes (003_0d1c8490fe7db56e.txt)
consolidating | closed → (relapse 反复回潮) rectifying
rectifying → (the county takes the village off the list) removed → (listed again) rectifying
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from domain.errors import InvalidTransition, ValidationFailed
from domain.vocabulary import RectificationStatus, zh_date


@dataclass(frozen=True)
class RectificationState:
    status: str
    failed_acceptances: int = 0
    relapses: int = 0
    accepted_on: dt.date | None = None
    consolidation_ends_on: dt.date | None = None
    closed_on: dt.date | None = None
    listed_on: dt.date | None = None
    removed_on: dt.date | None = None


def apply_for_acceptance(state: RectificationState) -> RectificationState:
    if state.status != RectificationStatus.RECTIFYING:
        raise InvalidTransition("只有整顿中的村可以申请验收")
    return replace(state, status=RectificationStatus.APPLIED)


def inspect(state: RectificationState, passed: bool, today: dt.date, consolidation_days: int) -> RectificationState:
    """The county's acceptance inspection (验收): pass → consolidation; fail → back to rectifying."""
    if state.status != RectificationStatus.APPLIED:
        raise InvalidTransition("只有已申请验收的村可以验收")
    if passed:
        return replace(state, status=RectificationStatus.CONSOLIDATING, accepted_on=today,
                       consolidation_ends_on=today + dt.timedelta(days=consolidation_days))
    return replace(state, status=RectificationStatus.RECTIFYING, failed_acceptances=state.failed_acceptances + 1)


def close_out(state: RectificationState, today: dt.date) -> RectificationState:
    """Close the case (销号) once consolidation has run its course."""
    if state.status != RectificationStatus.CONSOLIDATING or state.consolidation_ends_on is None:
        raise InvalidTransition("只有巩固提升期的村可以销号")
    if today <= state.consolidation_ends_on:
        raise InvalidTransition(f"巩固提升期到{zh_date(state.consolidation_ends_on)}结束，之后才能销号")
    return replace(state, status=RectificationStatus.CLOSED, closed_on=today)


def relapse(state: RectificationState, reason: str) -> RectificationState:
    """A relapse (反复回潮) reopens a consolidating or closed village."""
    if state.status not in (RectificationStatus.CONSOLIDATING, RectificationStatus.CLOSED):
        raise InvalidTransition("只有巩固提升或已销号的村才会反复回潮")
    if not reason.strip():
        raise ValidationFailed("请说明反复回潮的情况", errors=[{"field": "comment", "message": "required"}])
    return replace(state, status=RectificationStatus.RECTIFYING, relapses=state.relapses + 1, accepted_on=None,
                   consolidation_ends_on=None, closed_on=None)


def remove(state: RectificationState, reason: str, today: dt.date) -> RectificationState:
    """The county takes a village off the approved list (a wrong listing found at its check). Only a village still
    rectifying: one that applied for acceptance or passed it is decided by the acceptance (验收) instead."""
    if state.status != RectificationStatus.RECTIFYING:
        raise InvalidTransition(f"只有整顿中的村可以移出名单（当前状态：{RectificationStatus.label_of(state.status)}）")
    if not reason.strip():
        raise ValidationFailed("请说明移出名单的理由", errors=[{"field": "comment", "message": "required"}])
    return replace(state, status=RectificationStatus.REMOVED, removed_on=today)


def relist(state: RectificationState, today: dt.date) -> RectificationState:
    """A village taken off the list comes back on it: rectifying again from ``today``."""
    if state.status != RectificationStatus.REMOVED:
        raise InvalidTransition(f"该村已在名单中（当前状态：{RectificationStatus.label_of(state.status)}）")
    return replace(state, status=RectificationStatus.RECTIFYING, listed_on=today, removed_on=None)
