"""The checks of a gate, evaluated: what the data shows for each, what the reviewer must judge, and whether an
approval may pass.

A gate's ``checks:`` (``domain.definitions.GateCheck``) are the documents' vetting conditions, such as 001's six
no-approvals (六个不批). Each kind has one function here that turns the facts gathered by ``tasks.gate_checks``
into a :class:`Finding`: passed, failed (with the reason and the evidence), needs the reviewer's judgement, or
pending (judged at a later level of the chain). A reviewer's judgement (:class:`Tick`, with a note) settles a
check that needs one; a reviewer who finds a check not met fails it, whatever the data says. ``requires:``
adds one item per gate that must have passed first (stage order). :func:`refusal` says why an approval may
not go ahead: the approval that passes the gate needs every check passed and every judgement made; a failed
check refuses approval at every level unless an administrator overrides it with a written reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from domain.definitions import Gate, GateCheck
from domain.errors import Conflict, DubanError, PermissionDenied, ValidationFailed
from domain.forms import text_problem
from domain.vocabulary import CheckStatus, SubmissionStatus, zh_date

REQUIRES = "requires"
"""The kind of the items ``requires:`` adds; their keys are ``requires.<gate key>``."""
JUDGED = frozenset({"standard", "document"})
"""Kinds that are the reviewer's judgement whatever the data."""
MAX_NOTE = 2000


@dataclass(frozen=True)
class Tick:
    """A reviewer's judgement of one check: met (``confirmed``) or not, and the note that says why."""

    confirmed: bool
    note: str


@dataclass(frozen=True)
class SelfCheck:
    """A self-check summary of the applicant (001 六个不批(一)): its status, when it was approved, its score."""

    submission_id: int
    status: str
    decided_on: dt.date | None
    score: float | None


@dataclass(frozen=True)
class Prerequisite:
    """A gate named in ``requires:``, with the stage it closes and whether it has passed."""

    gate: str
    name: str
    stage_name: str
    passed: bool
    status_label: str


@dataclass(frozen=True)
class GateFacts:
    """What the checks of one submission read: its data and its form's labels, the day of the decision and of
    its submission, whether the decision is the gate's last level, the applicant's self-checks and the gates
    required first."""

    data: Mapping[str, Any]
    labels: Mapping[str, str]
    decision_on: dt.date
    applied_on: dt.date
    final: bool
    self_checks: Mapping[str, Sequence[SelfCheck]] = field(default_factory=dict)  # by the key of the check
    prerequisites: Sequence[Prerequisite] = ()


@dataclass(frozen=True)
class Finding:
    status: CheckStatus
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckItem:
    """One line of a gate's checklist as the reviewer at hand sees it."""

    key: str
    name: str
    kind: str
    source: str | None
    status: CheckStatus
    reason: str
    evidence: dict[str, Any]
    judged: bool = False  # the status is a reviewer's judgement (its note is ``tick.note``)
    tick: Tick | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "name": self.name, "kind": self.kind, "source": self.source, "status": str(self.status),
            "status_label": self.status.label, "reason": self.reason, "evidence": self.evidence,
            "needs_judgement": self.status is CheckStatus.NEEDS_JUDGEMENT,
            "judgement": None if self.tick is None else {"confirmed": self.tick.confirmed, "note": self.tick.note},
        }


# ---- one function per kind of check ------------------------------------------------------------------------


def _label(facts: GateFacts, key: str | None) -> str:
    return facts.labels.get(key or "", key or "")


def self_check(check: GateCheck, facts: GateFacts) -> Finding:
    """001 六个不批(一) 对申报对象不自查的不批: a self-check summary, scored against the 评分表 with a written summary,
    submitted and approved before the application; its score at least ``min_score`` when the county sets one,
    and the score the application repeats (``field``) the approved one."""
    records = facts.self_checks.get(check.key, ())
    approved = [c for c in records if c.status == SubmissionStatus.APPROVED and c.decided_on is not None]
    before = [c for c in approved if c.decided_on is not None and c.decided_on <= facts.applied_on]
    if not before:
        late = f"（{zh_date(approved[0].decided_on)}才审核通过，晚于申报）" if approved else ""
        states = "、".join(SubmissionStatus.label_of(c.status) for c in records) or "未报送"
        return Finding(CheckStatus.FAILED, f"申报前没有审核通过的自查总结（自查总结：{states}）{late}",
                       {"self_checks": [c.submission_id for c in records], "applied_on": facts.applied_on.isoformat()})
    found = before[-1]
    evidence = {"self_check": found.submission_id, "approved_on": found.decided_on.isoformat() if found.decided_on else None,
                "score": found.score}
    if check.min_score is not None and (found.score is None or found.score < check.min_score):
        return Finding(CheckStatus.FAILED, f"自查得分{_number(found.score)}，低于{_number(check.min_score)}分", evidence)
    claimed = facts.data.get(check.field) if check.field else None
    if claimed is not None and found.score is not None and float(claimed) != float(found.score):
        return Finding(CheckStatus.FAILED, f"“{_label(facts, check.field)}”填写{_number(claimed)}分，与审核通过的自查总结"
                       f"（{_number(found.score)}分）不一致", evidence | {"claimed": claimed})
    return Finding(CheckStatus.PASSED, f"自查总结已于{zh_date(found.decided_on)}审核通过，自查得分{_number(found.score)}", evidence)


def public_notice(check: GateCheck, facts: GateFacts) -> Finding:
    """001 六个不批(二) 对申报对象不公示的不批: the township published the application for ``days`` days or more
    (the number is blank in 001: unset, the reviewer confirms the period is enough), the start no later than
    the end, and the notice over before the county's decision (checked at the gate's last level)."""
    start, end = _date(facts.data.get(check.start_field or "")), _date(facts.data.get(check.end_field or ""))
    if start is None or end is None:
        missing = "、".join(f"“{_label(facts, k)}”" for k, v in ((check.start_field, start), (check.end_field, end)) if v is None)
        return Finding(CheckStatus.FAILED, f"未填写{missing}，无法核实公示", {})
    days = (end - start).days + 1
    evidence = {"start": start.isoformat(), "end": end.isoformat(), "days": days, "required_days": check.days}
    period = f"公示{zh_date(start)}至{zh_date(end)}"
    if end < start:
        return Finding(CheckStatus.FAILED, f"{period}：结束日期早于开始日期", evidence)
    if check.days is not None and days < check.days:
        return Finding(CheckStatus.FAILED, f"{period}，共{days}天，少于规定的{check.days}天", evidence)
    if end >= facts.decision_on:
        status = CheckStatus.FAILED if facts.final else CheckStatus.PENDING
        return Finding(status, f"{period}，共{days}天，公示期到{zh_date(facts.decision_on)}尚未结束，须公示期满后再审批", evidence)
    if check.days is None:
        return Finding(CheckStatus.NEEDS_JUDGEMENT, f"{period}，共{days}天，已在审批前结束；公示天数未作统一规定，"
                       "请核实公示期是否足够并确认", evidence)
    return Finding(CheckStatus.PASSED, f"{period}，共{days}天，不少于{check.days}天，已在审批前结束", evidence)


def satisfaction(check: GateCheck, facts: GateFacts) -> Finding:
    """001 六个不批(三) 群众满意率不高的不批: the surveyed satisfaction (percent, 0–100) reaches ``threshold`` (002's
    90% as shipped); unset, the reviewer confirms it is high enough."""
    value = facts.data.get(check.field or "")
    if value is None:
        return Finding(CheckStatus.FAILED, f"未填写“{_label(facts, check.field)}”", {})
    evidence = {"value": value, "threshold": check.threshold}
    if check.threshold is None:
        return Finding(CheckStatus.NEEDS_JUDGEMENT, f"群众满意率{_number(value)}%；满意率标准未作统一规定，请确认是否达到要求", evidence)
    if value < check.threshold:
        return Finding(CheckStatus.FAILED, f"群众满意率{_number(value)}%，低于{_number(check.threshold)}%", evidence)
    return Finding(CheckStatus.PASSED, f"群众满意率{_number(value)}%，达到{_number(check.threshold)}%", evidence)


def veto(check: GateCheck, facts: GateFacts) -> Finding:
    """001 六个不批(四) 出现“四个一票否决”现象的不批: the application declares none (``field``), and the county finds none
    at its re-check with the discipline, legal, family-planning, Youth League and Women's Federation departments:
    the reviewer of the gate's last level confirms it."""
    declared = facts.data.get(check.field) if check.field else None
    evidence = {"declared_none": declared}
    if check.field and declared is not True:
        said = "声明出现了" if declared is False else "未声明是否出现"
        return Finding(CheckStatus.FAILED, f"申报材料{said}“四个一票否决”现象", evidence)
    said = "申报材料声明未出现“四个一票否决”现象；" if check.field else ""
    return Finding(CheckStatus.NEEDS_JUDGEMENT, f"{said}请在复查验收中会同纪检、政法、计生、团委、妇联等部门核实后确认", evidence)


def judgement(check: GateCheck, facts: GateFacts) -> Finding:
    """A ``standard`` or ``document`` check (e.g. 001 六个不批(五)(六)): the reviewer's explicit judgement."""
    return Finding(CheckStatus.NEEDS_JUDGEMENT, "须由审核人对照材料作出判断并填写意见")


KINDS: dict[str, Callable[[GateCheck, GateFacts], Finding]] = {
    "self_check": self_check, "public_notice": public_notice, "satisfaction": satisfaction, "veto": veto,
    "standard": judgement, "document": judgement,
}


def prerequisite(req: Prerequisite, facts: GateFacts) -> Finding:
    """``requires:``: the required gate has passed; drafts and earlier levels may go ahead, the approval that
    passes this gate waits for it."""
    evidence = {"gate": req.gate, "status": req.status_label}
    if req.passed:
        return Finding(CheckStatus.PASSED, f"“{req.name}”（{req.stage_name}阶段）已通过", evidence)
    status = CheckStatus.FAILED if facts.final else CheckStatus.PENDING
    return Finding(status, f"前置关口“{req.name}”（{req.stage_name}阶段）尚未通过，须待其通过后才能批准本关口", evidence)


# ---- the checklist and the verdict ---------------------------------------------------------------------------


def evaluate(gate: Gate, facts: GateFacts, ticks: Mapping[str, Tick] | None = None) -> list[CheckItem]:
    """The checklist of ``gate`` for the decision described by ``facts``, with the reviewer's ``ticks``: the gates
    required first, then the checks in the definition's order."""
    ticks = ticks or {}
    items = [_item(f"{REQUIRES}.{req.gate}", f"前置关口：{req.name}", REQUIRES, None, prerequisite(req, facts), None, facts)
             for req in facts.prerequisites]
    for check in gate.checks:
        items.append(_item(check.key, check.name, check.kind, check.source, KINDS[check.kind](check, facts),
                           ticks.get(check.key), facts))
    return items


def _item(key: str, name: str, kind: str, source: str | None, found: Finding, tick: Tick | None,
          facts: GateFacts) -> CheckItem:
    item = CheckItem(key, name, kind, source, found.status, found.reason, found.evidence, tick=tick)
    if found.status is CheckStatus.NEEDS_JUDGEMENT and not facts.final:
        item = replace(item, status=CheckStatus.PENDING, reason=f"{found.reason}（由终审环节判断）")
    if tick is None or kind == REQUIRES:
        return item
    if not tick.confirmed:
        return replace(item, status=CheckStatus.FAILED, reason=f"审核人判断不符合：{tick.note}", judged=True)
    if item.status in (CheckStatus.NEEDS_JUDGEMENT, CheckStatus.PENDING):
        return replace(item, status=CheckStatus.PASSED, reason=f"审核人确认符合：{tick.note}", judged=True)
    return item


def read_ticks(gate: Gate, given: Mapping[str, Mapping[str, Any]] | None) -> dict[str, Tick]:
    """The reviewer's judgements from a decision body (``{key: {"confirmed": bool, "note": str}}``): each names a
    check of the gate and carries a note (422 otherwise)."""
    known = {c.key: c for c in gate.checks}
    ticks: dict[str, Tick] = {}
    for key, body in (given or {}).items():
        if key not in known:
            raise ValidationFailed(f"“{gate.name}”没有审查项 {key}；可选：{'、'.join(known) or '无'}",
                                   errors=[{"field": f"checks.{key}", "message": "unknown check"}])
        note = str(body.get("note") or "").strip()
        if not note:
            raise ValidationFailed(f"对审查项“{known[key].name}”的判断必须填写意见，说明依据",
                                   errors=[{"field": f"checks.{key}.note", "message": "required"}])
        problem = text_problem(note) or (f"不能超过{MAX_NOTE}字" if len(note) > MAX_NOTE else None)
        if problem:
            raise ValidationFailed(f"对审查项“{known[key].name}”的意见{problem}",
                                   errors=[{"field": f"checks.{key}.note", "message": problem}])
        ticks[key] = Tick(confirmed=body.get("confirmed") is True, note=note)
    return ticks


def refusal(items: Sequence[CheckItem], *, final: bool, admin: bool, override_reason: str | None) -> DubanError | None:
    """Why an approval with this checklist may not go ahead, or None. Failed checks refuse (409) unless an
    administrator overrides them with a written reason; a gate required first is never overridden; at the
    gate's last level every judgement must be made (422). An override where nothing failed is refused too."""
    reason = (override_reason or "").strip()
    if reason and not admin:
        return PermissionDenied("只有县委组织部管理员可以在审查项不符合时例外批准",
                                errors=[{"field": "override_reason", "message": "administrators only"}])
    waiting = [i for i in items if i.kind == REQUIRES and i.status is CheckStatus.FAILED]
    failed = [i for i in items if i.kind != REQUIRES and i.status is CheckStatus.FAILED]
    undecided = [i for i in items if final and i.status is CheckStatus.NEEDS_JUDGEMENT]
    if waiting:
        return Conflict("不能批准：" + "；".join(i.reason for i in waiting) + "。草稿和前面环节的审核可以先进行",
                        errors=[_error(i) for i in waiting])
    if failed and not reason:
        listed = "；".join(f"“{i.name}”——{i.reason}" for i in failed)
        return Conflict(f"审查项不符合，不能批准：{listed}。请退回修改或不予通过；确需例外批准的，由县委组织部管理员写明理由",
                        errors=[_error(i) for i in failed])
    if reason and not failed:
        return ValidationFailed("没有不符合的审查项，无需例外批准，请删除例外批准理由",
                                errors=[{"field": "override_reason", "message": "nothing to override"}])
    if undecided:
        listed = "；".join(f"“{i.name}”（{i.reason}）" for i in undecided)
        return ValidationFailed(f"请对以下审查项作出判断并填写意见后再批准：{listed}",
                                errors=[{"field": f"checks.{i.key}", "message": "judgement required"} for i in undecided])
    problem = text_problem(reason) or (f"不能超过{MAX_NOTE}字" if len(reason) > MAX_NOTE else None)
    if problem:
        return ValidationFailed(f"例外批准理由{problem}", errors=[{"field": "override_reason", "message": problem}])
    return None


def overridden(items: Sequence[CheckItem]) -> list[CheckItem]:
    """The failed checks an approval with an override passes over."""
    return [i for i in items if i.kind != REQUIRES and i.status is CheckStatus.FAILED]


def _error(item: CheckItem) -> dict[str, str]:
    return {"field": f"checks.{item.key}", "message": item.reason}


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _number(value: Any) -> str:
    """93.0 → 93, 93.5 → 93.5."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
