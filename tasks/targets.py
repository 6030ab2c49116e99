"""Targets (指标) on what the townships submitted: the figures each campaign's targets name are gathered in a few
queries — the approved submissions, the township's villages (org data), the villages on the approved list, and the
same definition's campaigns of the years before for a rule that counts years running (000 §二.2 尽量避免连续两年出现
发展党员空白村) — and judged by ``domain.targets``. Only approved submissions count: a figure still in review is
not yet the township's answer.

The judgements are remembered per database, audit-chain head and set of campaigns (``evaluate_campaigns``): every
change appends its audit event in its own transaction, so a page asking again before anything changed gets the
same figures without reading and judging them again, and the first request after a change judges afresh."""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from domain.definitions import ORG_FIELDS, Definition, FieldType, Form, FormField, Target
from domain.targets import Reading, TargetFacts, TargetResult, count_names, evaluate, period_label
from domain.vocabulary import SubmissionStatus, zh_date
from domain.work_records import HalfYear, half_year_of
from models import Campaign, Leader, LeaderLevel, LeaderVisit, Obligation, OrgUnit, Submission, VillageRectification
from tasks.audit import chain_head
from tasks.registry import definition_of

CHUNK = 500


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start:start + CHUNK])


@dataclass
class _Found:
    """What the targets of some campaigns read, loaded once."""

    submissions: dict[int, list[Submission]] = field(default_factory=lambda: defaultdict(list))  # by campaign id
    periods: dict[int, str] = field(default_factory=dict)  # obligation id -> period of a recurring deadline
    villages: dict[int, list[Any]] = field(default_factory=lambda: defaultdict(list))  # by township id: _VILLAGE rows
    listed: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))  # campaign id -> village ids
    earlier: dict[tuple[str, int, int], Campaign] = field(default_factory=dict)  # (definition, township, year)
    visits: dict[tuple[int, int], list[Reading]] = field(default_factory=dict)  # (township, year) -> per leader, half


_VILLAGE = (col(OrgUnit.id), col(OrgUnit.code), col(OrgUnit.name), col(OrgUnit.parent_id),
            *(col(getattr(OrgUnit, name)) for name in ORG_FIELDS))
"""What the targets read of a village: plain rows, not ORM objects."""


def _earlier_campaigns(session: Session, campaigns: Sequence[Campaign], definitions: dict[int, Definition]) -> list[Campaign]:
    """The campaigns of the years before that a years-running target reads (same definition and township)."""
    back = {cid: max((t.consecutive_years or 1) - 1 for t in d.targets) for cid, d in definitions.items() if d.targets}
    wanted = {(c.definition_key, c.township_id, c.year - k) for c in campaigns
              for k in range(1, back.get(c.id or 0, 0) + 1)}
    if not wanted:
        return []
    stmt = select(Campaign).where(col(Campaign.definition_key).in_({w[0] for w in wanted}),
                                  col(Campaign.township_id).in_({w[1] for w in wanted}),
                                  col(Campaign.year).in_({w[2] for w in wanted}))
    return [c for c in session.exec(stmt) if (c.definition_key, c.township_id, c.year) in wanted]


def _load(session: Session, campaigns: Sequence[Campaign], definitions: dict[int, Definition]) -> _Found:
    found = _Found()
    earlier = _earlier_campaigns(session, campaigns, definitions)
    found.earlier = {(c.definition_key, c.township_id, c.year): c for c in earlier}
    forms = {t.form_key for d in definitions.values() for t in d.targets}
    ids = sorted({c.id or 0 for c in [*campaigns, *earlier]})
    for chunk in _chunks(ids):
        stmt = select(Submission).where(col(Submission.campaign_id).in_(chunk), col(Submission.form_key).in_(forms),
                                        Submission.status == SubmissionStatus.APPROVED)
        for sub in session.exec(stmt.order_by(col(Submission.decided_at), col(Submission.id))):
            found.submissions[sub.campaign_id].append(sub)
    obligation_ids = sorted({s.obligation_id for subs in found.submissions.values() for s in subs if s.obligation_id})
    for chunk in _chunks(obligation_ids):
        for ob in session.exec(select(Obligation).where(col(Obligation.id).in_(chunk))):
            found.periods[ob.id or 0] = ob.period if ob.period != str(ob.due_on.year) else ""
    townships = sorted({c.township_id for c in campaigns})
    for chunk in _chunks(townships):
        for village in session.execute(select(*_VILLAGE).where(OrgUnit.kind == "village", col(OrgUnit.parent_id).in_(chunk))
                                       .order_by(col(OrgUnit.code))):
            found.villages[village.parent_id or 0].append(village)
    for chunk in _chunks(sorted({c.id or 0 for c in campaigns})):
        for campaign_id, village_id in session.exec(select(VillageRectification.campaign_id, VillageRectification.village_id)
                                                    .where(col(VillageRectification.campaign_id).in_(chunk))):
            found.listed[campaign_id].add(village_id)
    if any(t.field == "records.leader_visits" for d in definitions.values() for t in d.targets):
        found.visits = _visit_readings(session, campaigns)
    return found


def _visit_readings(session: Session, campaigns: Sequence[Campaign]) -> dict[tuple[int, int], list[Reading]]:
    """Per (township, year): each county leader's visits to the contact village in each half-year of the year in
    which a visit of the township's county leaders is recorded (003 §三(一) 每半年不少于3次)."""
    townships, years = {c.township_id for c in campaigns}, {c.year for c in campaigns}
    leaders = list(session.exec(select(Leader).where(Leader.level == LeaderLevel.COUNTY,
                                                     col(Leader.township_id).in_(townships)).order_by(col(Leader.code))))
    counted: dict[tuple[int, HalfYear], int] = defaultdict(int)
    if leaders:
        for leader_id, day in session.exec(select(col(LeaderVisit.leader_id), col(LeaderVisit.visited_on)).where(
                col(LeaderVisit.leader_id).in_([p.id for p in leaders]))):
            if day.year in years:
                counted[(leader_id, half_year_of(day))] += 1
    out: dict[tuple[int, int], list[Reading]] = defaultdict(list)
    for township, year in {(c.township_id, c.year) for c in campaigns}:
        own = [p for p in leaders if p.township_id == township]
        halves = sorted({h for (leader_id, h) in counted if h.year == year and any(p.id == leader_id for p in own)})
        for half in halves:
            for leader in own:
                n = counted.get((leader.id or 0, half), 0)
                out[(township, year)].append(Reading(float(n), f"领导到点记录：{leader.name}{half.label}到点{n}次",
                                                     label=f"{leader.name}{half.label}"))
    return out


_REMEMBERED = 64
_remembered: OrderedDict[tuple[Any, ...], tuple[tuple[Definition | None, ...], dict[int, list[TargetResult]]]] = OrderedDict()
_remembered_lock = threading.Lock()


def evaluate_campaigns(session: Session, campaigns: Sequence[Campaign]) -> dict[int, list[TargetResult]]:
    """Every target of each campaign (by campaign id), judged on its approved submissions and the org data;
    a campaign whose definition is no longer loaded has none.

    Remembered under the audit chain's head (read before anything the targets read, so the figures are never
    older than the head they are filed under) and the campaigns as they are now: any committed change moves the
    head, and the next call judges afresh."""
    definitions = {c.id or 0: definition_of(c) for c in campaigns}  # each campaign by its own version
    key = (session.get_bind().engine.url, chain_head(session),
           tuple((c.id, c.definition_key, c.definition_version, c.township_id, c.year) for c in campaigns))
    pinned = tuple(definitions.values())
    with _remembered_lock:
        hit = _remembered.get(key)
        if hit is not None and len(hit[0]) == len(pinned) and all(a is b for a, b in zip(hit[0], pinned, strict=True)):
            _remembered.move_to_end(key)
            return {cid: list(results) for cid, results in hit[1].items()}
    out = _evaluate(session, campaigns, definitions)
    with _remembered_lock:
        _remembered[key] = (pinned, {cid: list(results) for cid, results in out.items()})
        _remembered.move_to_end(key)
        while len(_remembered) > _REMEMBERED:
            _remembered.popitem(last=False)
    return out


def _evaluate(session: Session, campaigns: Sequence[Campaign],
              definitions: dict[int, Definition]) -> dict[int, list[TargetResult]]:
    found = _load(session, campaigns, definitions)
    out: dict[int, list[TargetResult]] = {}
    for campaign in campaigns:
        definition = definitions.get(campaign.id or 0)
        out[campaign.id or 0] = [evaluate(t, _facts(found, campaign, definition, t)) for t in definition.targets] \
            if definition else []
    return out


# ---- the figures of one target ------------------------------------------------------------------------------------


def _evidence(sub: Submission, form: Form, spec: FormField, found: _Found, about: str = "") -> str:
    """``整顿验收销号申请（编号12，2026年11月20日审核通过）“各村入党积极分子人数”``."""
    period = found.periods.get(sub.obligation_id or 0, "")
    when = f"，{period_label(period)}" if period else ""
    return f"{about}{form.name}（编号{sub.id}{when}，{zh_date(sub.decided_at or sub.updated_at)}审核通过）“{spec.label}”"


def _of_form(found: _Found, campaign: Campaign | None, form_key: str) -> list[Submission]:
    return [s for s in found.submissions.get(campaign.id or 0, []) if s.form_key == form_key] if campaign else []


def _facts(found: _Found, campaign: Campaign, definition: Definition, target: Target) -> TargetFacts:
    villages = found.villages.get(campaign.township_id, [])
    if target.form_key == "records":
        return TargetFacts(readings=tuple(found.visits.get((campaign.township_id, campaign.year), [])),
                           missing="尚无本乡镇县领导到挂钩联系点的记录")
    if target.form_key == "org":
        label = ORG_FIELDS[target.field_key][0]
        return TargetFacts(readings=tuple(
            Reading(_number(getattr(v, target.field_key)), f"组织机构数据“{label}”"
                    if getattr(v, target.field_key) is not None else "", label=v.name, code=v.code)
            for v in _covered(found, campaign, target, villages)), missing="组织机构数据中本乡镇没有村")
    form = definition.form(target.form_key)
    spec = next(f for f in form.fields if f.key == target.field_key)
    subs = _of_form(found, campaign, form.key)
    missing = f"尚无审核通过的“{form.name}”"
    if target.aggregation == "per_township":
        return TargetFacts(readings=tuple(
            Reading(_number(s.data.get(spec.key)), _evidence(s, form, spec, found) if spec.key in s.data else "",
                    label=period_label(found.periods.get(s.obligation_id or 0, "")))
            for s in subs), missing=missing)
    if target.aggregation == "share_of_villages":
        return _share(found, form, spec, subs, villages, missing)
    covered = _covered(found, campaign, target, villages)
    if not covered:
        return TargetFacts(missing="批准的名单中没有整顿村" if target.villages == "listed" else "组织机构数据中本乡镇没有村")
    return TargetFacts(readings=tuple(_village_reading(found, campaign, definition, target, form, spec, v) for v in covered),
                       missing=missing)


def _covered(found: _Found, campaign: Campaign, target: Target, villages: list[Any]) -> list[Any]:
    """The villages a per-village target covers: the township's, or those on the campaign's approved list."""
    if target.villages == "listed":
        listed = found.listed.get(campaign.id or 0, set())
        return [v for v in villages if v.id in listed]
    return villages


def _share(found: _Found, form: Form, spec: FormField, subs: list[Submission], villages: list[Any],
           missing: str) -> TargetFacts:
    latest = next((s for s in reversed(subs) if spec.key in s.data), None)
    if latest is None:
        return TargetFacts(villages_total=len(villages), missing=missing)
    codes = set(latest.data.get(spec.key) or [])
    names = [v.name for v in villages if v.code in codes]
    return TargetFacts(readings=(Reading(float(len(names)), _evidence(latest, form, spec, found), label="、".join(names)),),
                       villages_total=len(villages))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _village_value(found: _Found, campaign: Campaign | None, form: Form, spec: FormField,
                   village: Any) -> tuple[float | None, Submission | None]:
    """A village's figure in a campaign: its line of a per-village table, or the number (or the names counted)
    in the village's own submission; the latest approved one wins."""
    for sub in reversed(_of_form(found, campaign, form.key)):
        if spec.type is FieldType.VILLAGE_NUMBERS:
            value = (sub.data.get(spec.key) or {}).get(village.code)
        elif sub.subject_id == village.id:
            raw = sub.data.get(spec.key)
            value = count_names(raw) if spec.type is FieldType.TEXT else raw
        else:
            continue
        if _number(value) is not None:
            return _number(value), sub
    return None, None


def _village_reading(found: _Found, campaign: Campaign, definition: Definition, target: Target, form: Form,
                     spec: FormField, village: Any) -> Reading:
    value, sub = _village_value(found, campaign, form, spec, village)
    about = "" if spec.type is FieldType.VILLAGE_NUMBERS else f"{village.name}的"
    previous = tuple(
        _village_value(found, found.earlier.get((definition.key, campaign.township_id, campaign.year - k)), form, spec,
                       village)[0]
        for k in range(1, (target.consecutive_years or 1)))
    return Reading(value, _evidence(sub, form, spec, found, about) if sub else "", label=village.name, code=village.code,
                   previous=previous)
