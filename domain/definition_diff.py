"""What changed between two versions of a campaign definition: stages, gates and their review chains, forms and
their fields, deadlines (the obligations' rules), reminders and the escalation ladder. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from domain.definitions import Definition


@dataclass
class Section:
    """One part of a definition: the keys added, removed and changed (with what changed, in Chinese)."""

    name: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def _dump(item: Any) -> dict[str, Any]:
    return item.model_dump(mode="json", exclude_none=True)  # type: ignore[no-any-return]


def _compare(name: str, old: Iterable[Any], new: Iterable[Any], labels: dict[str, str]) -> Section:
    """Keyed items: added, removed, and for each kept item the attributes that differ (by ``labels``)."""
    before = {x.key: _dump(x) for x in old}
    after = {x.key: _dump(x) for x in new}
    section = Section(name, added=[k for k in after if k not in before], removed=[k for k in before if k not in after])
    for key in before.keys() & after.keys():
        differ = [labels.get(attr, attr) for attr in sorted(before[key].keys() | after[key].keys())
                  if before[key].get(attr) != after[key].get(attr)]
        if differ:
            section.changed[key] = differ
    section.changed = dict(sorted(section.changed.items()))
    return section


STAGE_LABELS = {"name": "名称", "opens": "开始日期", "closes": "结束日期", "gate": "审核关口", "description": "说明",
                "source": "依据"}
GATE_LABELS = {"name": "名称", "form": "表单", "review_chain": "审核链", "max_return_rounds": "退回次数上限",
               "checks": "审核检查项", "requires": "前置关口", "veto_ban_years": "一票否决年限", "source": "依据"}
FORM_LABELS = {"name": "名称", "fields": "字段", "boilerplate": "套话"}
OBLIGATION_LABELS = {"title": "名称", "kind": "类型", "form": "表单", "due": "截止日期规则", "policy": "节假日顺延规则",
                     "during": "所属阶段", "reminders": "提醒", "subjects": "填报对象"}
LEVEL_LABELS = {"name": "名称", "after": "逾期天数", "recipients": "通知对象", "document": "文书", "unit": "天数单位"}


def diff_definitions(old: Definition, new: Definition) -> list[Section]:
    """The sections of ``new`` that differ from ``old`` (empty sections left out), in reading order."""
    sections = [
        _compare("阶段", old.stages, new.stages, STAGE_LABELS),
        _compare("审核关口", old.gates, new.gates, GATE_LABELS),
        _compare("表单", old.forms, new.forms, FORM_LABELS),
        _compare("截止事项", old.obligations, new.obligations, OBLIGATION_LABELS),
        _compare("督办阶梯", old.escalation.ladder, new.escalation.ladder, LEVEL_LABELS),
    ]
    if _dump(old.reminders) != _dump(new.reminders):
        sections.append(Section("提醒", changed={"reminders": ["提醒天数"]}))
    if _dump(old.escalation.triggers) != _dump(new.escalation.triggers):
        sections.append(Section("督办触发条件", changed={"triggers": ["触发条件"]}))
    return [s for s in sections if not s.empty]


def changed_forms(old: Definition, new: Definition) -> dict[str, str]:
    """Forms a campaign's open submissions use that the new version removes or changes: key → what happened."""
    after = {f.key: _dump(f) for f in new.forms}
    out: dict[str, str] = {}
    for form in old.forms:
        if form.key not in after:
            out[form.key] = "removed"
        elif after[form.key] != _dump(form):
            out[form.key] = "changed"
    return out
