"""The behaviour model: who submits what and when, how reviewers decide, and the text they write.

Every township has a profile (on time, late, never, hollow: "无", "暂无" - a zero report of the list, or a
report the system sends back for completion, which the township then completes) that most of its deadlines
follow; its liaison acts at 10:00 through the same review functions as the API (:mod:`tasks.review`), and
reviewers decide at 11:00, returning some reports 0–2 times before approving. Every draw comes from a random generator seeded by the run's seed and what is decided,
so the same seed makes the same people."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.clock import CHINA_TZ, china_date
from core.db import session_scope
from domain.definitions import Definition, FieldType, FormField
from domain.errors import DubanError
from domain.gate_checks import REQUIRES, CheckItem
from domain.vocabulary import CheckStatus
from models import Campaign, Obligation, OrgUnit, Submission, User
from tasks import gate_checks, review
from tasks.accounts import Principal, principal_for

ADHERENCE = 0.8  # share of a township's deadlines that follow its profile (the rest: on time)
HOLLOW = ("无", "暂无", "无。", "暂无。", "同上")
RETURN_COMMENTS = (
    "存在问题找得不准，请逐村细化", "整改措施针对性不强，请按“八治”思路补充", "取得的成效请用数据说明",
    "责任人和整改时限不明确，请补充", "下步打算过于笼统，请具体到月",
)
EVIDENCE = b"%PDF-1.4\n% duban simulation\n%%EOF\n"


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """``day`` at ``hour:minute`` China time."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHINA_TZ)


# ---- realistic report text ------------------------------------------------------------------------

_PHRASES: dict[str, tuple[str, ...]] = {
    "basic_situation": (
        "{t}共有{n}个村党组织，本季度确定的{k}个后进薄弱村均已明确1名县级领导联系、1个挂钩帮扶单位",
        "{t}党委对{k}个整顿村逐村召开专题会议，班子调整和制度建设按计划推进",
        "本季度{t}整顿工作按“一村一策”推进，{k}个村的整改台账已建立，每月底上报进展",
    ),
    "results": (
        "新发展党员{a}名，培养入党积极分子{b}名，调整村党组织书记{c}名",
        "恢复“三会一课”制度，组织党员集中学习{b}次，村集体经济增收{a}万元",
        "化解矛盾纠纷{b}件，{c}个村完成软弱班子调整，群众满意率提升到{p}%",
    ),
    "main_problems": (
        "个别村党员老化，后备干部不足，集体经济增收渠道单一",
        "部分挂钩帮扶单位到村次数偏少，整改措施落实不够到位",
        "少数村“三会一课”记录不规范，党员参与率仍然偏低",
    ),
    "next_steps": (
        "下季度完成{c}个村的班子调整，培养入党积极分子{b}名",
        "督促挂钩帮扶单位每月到村不少于2次，推动集体经济项目落地",
        "对照“五好”标准开展自查，逐项整改，准备验收销号",
    ),
    "investigation": (
        "乡党委班子成员分片包村，采取听取汇报、查阅资料、走访群众的方式逐村过筛子，找准问题病灶",
        "召开村民代表座谈会{b}场，走访党员群众{a}人次，逐村研判班子运行情况",
    ),
    "zero_report_reason": ("经逐村调查核实，全乡各村党组织班子健全、运转正常，未发现后进薄弱村",),
    "problems": ("班子软弱涣散，组织生活不正常，集体经济薄弱", "村党组织书记年龄偏大，带富能力不强"),
    "measures": ("治软：调整支部书记；治散：恢复“三会一课”；治穷：发展特色种植", "治庸：选派第一书记；治乱：化解矛盾纠纷"),
    "villager_review": ("村民代表会议审议通过，到会代表{a}人", "经村民代表会议讨论，一致同意整顿方案"),
    "progress": ("本周召开支部委员会1次，走访群众{a}户，落实整改措施{c}项", "本周完成村务公开栏更新，组织党员学习1次"),
    "problems_week": ("部分整改措施进度偏慢",),
    "next_week": ("下周召开党员大会，推进集体经济项目", "下周督促挂钩帮扶单位到村开展帮扶"),
    "rectification_summary": ("整顿以来，{k}个村班子全部调整到位，制度健全，集体经济收入均达到3万元以上",),
    "five_good_status": ("对照“五好”标准逐项自查，领导班子好、党员队伍好、制度建设好均已达标",),
    "consolidation_measures": ("建立定期回访制度，县级领导联系人每半年到村不少于3次，防止反复回潮",),
}
_GENERIC = ("按照县委组织部部署，{t}认真组织落实，各项工作有序推进，取得阶段性成效",
            "{t}党委高度重视，明确专人负责，按时间节点推进，确保任务落到实处")


def _text(key: str, rng: random.Random, township: str, n: int, k: int) -> str:
    bank = _PHRASES.get(key, _GENERIC)
    template = rng.choice(bank)
    return template.format(t=township, n=n, k=k, a=rng.randint(2, 30), b=rng.randint(2, 12), c=rng.randint(1, 4),
                           p=rng.randint(85, 98))


def fill_form(definition: Definition, form_key: str, *, township: OrgUnit, subject: OrgUnit, villages: list[str],
              due_on: dt.date, today: dt.date, rng: random.Random, hollow: bool = False, round_no: int = 1,
              attachment_id: int | None = None) -> dict[str, Any]:
    """A form filled in as a township's liaison would: plausible text about ``township`` (or, ``hollow``,
    "无"/"暂无" where something is required), the weak ``villages``, dates around ``due_on`` and ``today``,
    the evidence ``attachment_id`` in a file field. A later round says it was revised."""
    form = definition.form(form_key)
    data: dict[str, Any] = {}
    for f in form.fields:
        if f.type is FieldType.TEXTAREA:
            text = _textarea(f, form_key, rng, township, villages, hollow=hollow, round_no=round_no)
            if text is not None:
                data[f.key] = text + (_village_detail(subject) if f.distinct_per_village and not hollow else "")
        elif f.type is FieldType.TEXT:
            data[f.key] = {"responsible_person": f"{township.name[:1]}书记", "helping_units": "县农业农村局",
                           "county_leader_contact": "李副县长"}.get(f.key, f"{subject.name}{f.label}")
        elif f.type is FieldType.DATE:
            day = due_on + dt.timedelta(days=180) if "limit" in f.key else today - dt.timedelta(days=3)
            data[f.key] = day.isoformat()
        elif f.type in (FieldType.NUMBER, FieldType.VILLAGE_NUMBERS) and not f.required:
            data[f.key] = figure(f, form_key, township, villages)
        elif f.type is FieldType.NUMBER:
            data[f.key] = _number(f, township, rng)
        elif f.type is FieldType.BOOLEAN:
            data[f.key] = True
        elif f.type is FieldType.SELECT:
            data[f.key] = f.options[0] if f.options else None
        elif f.type is FieldType.VILLAGES:
            data[f.key] = [] if hollow else [subject.code] if subject.kind == "village" else villages
        elif f.type is FieldType.FILE and attachment_id is not None and (f.required or rng.random() < 0.5):
            data[f.key] = [attachment_id]
    if hollow and "villages" in data:  # an empty list needs its (hollow) reason
        for f in form.fields:
            if f.required_when_empty and f.type is FieldType.TEXTAREA:
                data[f.key] = rng.choice(HOLLOW)
    return {k: v for k, v in data.items() if v is not None}


def figure(f: FormField, form_key: str, township: OrgUnit, villages: list[str]) -> Any:
    """A plausible figure for an optional number field (the targets' figures: a percent, a growth, a count, per
    village for a table). Drawn from its own generator seeded by the township, the form and the field, so that
    the figures never shift the behaviour the seed of the run decides."""
    draw = random.Random(f"{township.code}:{form_key}:{f.key}")
    low, high = {"percent": (70, 100), "growth": (-3, 20), "yuan": (5_000, 200_000)}.get(f.unit or "", (0, 12))

    def one() -> int:
        return draw.randint(low, high)

    return {code: one() for code in villages} if f.type is FieldType.VILLAGE_NUMBERS else one()


def _number(f: FormField, township: OrgUnit, rng: random.Random) -> int:
    """A percentage a township that meets 002's aims would report (90–99); a self-check score the same wherever
    the township writes it (its summary and its application), drawn once per township; otherwise a small count."""
    if f.unit == "percent":
        return rng.randint(90, 99)
    if f.key.endswith("score"):
        return random.Random(f"self-check score:{township.code}").randint(85, 98)
    return rng.randint(2, 6)


def met(checklist: list[CheckItem], note: str = "对照材料逐项审核，符合要求") -> dict[str, dict[str, Any]]:
    """The judgements of a reviewer who finds met every check of ``checklist`` that waits for one (the ``checks``
    of a decision)."""
    return {i.key: {"confirmed": True, "note": note} for i in checklist if i.status is CheckStatus.NEEDS_JUDGEMENT}


def _village_detail(subject: OrgUnit) -> str:
    """What makes a village's plan its own (一村一策: a plan copied from another village is refused): a figure of
    that village, different for each village of a township."""
    digits = "".join(ch for ch in subject.code if ch.isdigit())[-3:] or "0"
    return f"（全村现有党员{10 + int(digits)}名）" if subject.kind == "village" else ""


def _textarea(f: FormField, form_key: str, rng: random.Random, township: OrgUnit, villages: list[str], *, hollow: bool,
              round_no: int) -> str | None:
    if hollow:
        return rng.choice(HOLLOW) if f.required or f.required_when_empty else None
    if f.required_when_empty and villages:
        return None  # only needed when the list is empty
    key = "problems_week" if (f.key == "problems" and form_key.startswith("weekly")) else f.key
    n_villages = max(1, len(villages))
    text = _text(key, rng, township.name, n_villages * 3, n_villages)
    if round_no > 1:
        text += f"（第{round_no}轮修改：按审核意见补充了具体数据和时限）"
    return text


# ---- the people -----------------------------------------------------------------------------------


@dataclass
class Plan:
    """What a township does about one deadline: its behaviour and the day it acts (None: never)."""

    behaviour: str
    day: dt.date | None


@dataclass
class People:
    """The county's liaisons and reviewers. ``counts`` gets submissions, resubmissions, returns and approvals;
    ``errors`` every action the system refused (there should be none)."""

    seed: int
    max_returns: int
    definitions: dict[str, Definition]
    profiles: dict[str, str]
    counts: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    weak_choice: dict[int, list[str]] = field(default_factory=dict)

    def plan_for(self, township_code: str, ob_key: str, opens_on: dt.date, due_on: dt.date, hollow_ok: bool) -> Plan:
        rng = random.Random(f"{self.seed}:{township_code}:{ob_key}")
        profile = self.profiles.get(township_code, "on_time")
        behaviour = profile if rng.random() < ADHERENCE else "on_time"
        if behaviour == "hollow" and not hollow_ok:
            behaviour = "on_time"
        window = max(0, (due_on - opens_on).days)
        if behaviour in ("on_time", "hollow"):
            day: dt.date | None = opens_on + dt.timedelta(days=rng.randint(window // 2, window))
        elif behaviour == "late":
            day = due_on + dt.timedelta(days=rng.randint(1, 15))
        else:
            day = None
        return Plan(behaviour, day)

    def weak_villages(self, session: Session, township_id: int) -> list[str]:
        """The villages a township lists as weak: its key-contact villages and one more (seeded)."""
        if township_id not in self.weak_choice:
            villages = list(session.exec(select(OrgUnit).where(OrgUnit.parent_id == township_id, OrgUnit.kind == "village")
                                         .order_by(col(OrgUnit.code))))
            chosen = {v.code for v in villages if v.key_contact_class}
            rng = random.Random(f"{self.seed}:weak:{township_id}")
            if villages:
                chosen.add(rng.choice(villages).code)
            self.weak_choice[township_id] = sorted(chosen)
        return self.weak_choice[township_id]

    # -- 10:00, the liaisons

    def submit(self, engine: Engine, today: dt.date) -> None:
        """10:00: every liaison whose day has come submits (or resubmits a returned report)."""
        now = at(today, 10)
        with Session(engine) as s:
            rows = s.exec(
                select(Obligation, col(Campaign.definition_key), col(OrgUnit.code))
                .join(Campaign, col(Obligation.campaign_id) == Campaign.id)
                .join(OrgUnit, col(Campaign.township_id) == OrgUnit.id)
                .where(col(Campaign.status) == "active", col(Obligation.status).in_(["open", "missed"]),
                       col(Obligation.opens_on) <= today)
                .order_by(col(Obligation.id))
            ).all()
        for ob, definition_key, code in rows:
            definition = self.definitions[definition_key]
            rule = definition.obligation(ob.rule_key)
            if not rule.form:
                continue
            judged = definition.escalation.triggers.zero_report, definition.escalation.triggers.hollow_report
            hollow_ok = any(spec.checks(rule.form) for spec in judged)
            plan = self.plan_for(code, ob.key, ob.opens_on, ob.due_on, hollow_ok)
            if plan.day is None or today < plan.day:
                continue
            try:
                with session_scope(engine) as s:
                    self._submit_one(s, ob.id or 0, plan, definition, today, now)
            except DubanError as exc:
                self.errors.append(f"{today} {ob.key}: {exc.detail}")

    def _submit_one(self, s: Session, ob_id: int, plan: Plan, definition: Definition, today: dt.date,
                    now: dt.datetime) -> None:
        ob = s.get(Obligation, ob_id)
        assert ob is not None
        campaign = s.get(Campaign, ob.campaign_id)
        assert campaign is not None
        sub = s.exec(select(Submission).where(Submission.obligation_id == ob.id).order_by(col(Submission.id))).first()
        if sub is not None and sub.status not in ("draft", "returned"):
            return
        if sub is not None and sub.status == "returned" and china_date(sub.updated_at) >= today:
            return  # revise the day after the return
        liaison = s.exec(select(User).where(User.role == "submitter", User.org_unit_id == campaign.township_id,
                                            User.active == True).order_by(col(User.id))).first()  # noqa: E712
        if liaison is None:
            return
        who = principal_for(s, liaison)
        if sub is None:
            sub = review.create_submission(s, who, now, obligation_id=ob.id or 0, subject=None, data={}, submit=False)
        form = definition.form(definition.obligation(ob.rule_key).form or "")
        attachment_id = None
        if any(f.type is FieldType.FILE for f in form.fields):
            sub, attachment_id = _evidence(s, who, now, sub)
        township, subject = s.get(OrgUnit, campaign.township_id), s.get(OrgUnit, ob.subject_id)
        assert township is not None and subject is not None
        resubmit = sub.status == "returned"  # told what to complete, a hollow township completes it
        data = fill_form(definition, form.key, hollow=plan.behaviour == "hollow" and not resubmit,
                         round_no=sub.round + (sub.status == "returned"), township=township, subject=subject,
                         villages=self.weak_villages(s, campaign.township_id), due_on=ob.due_on, today=today,
                         attachment_id=attachment_id, rng=random.Random(f"{self.seed}:text:{ob.id}:{sub.round}"))
        if sub.created_by is None:
            review.create_submission(s, who, now, obligation_id=ob.id or 0, subject=None, data=data, submit=True)
        else:
            review.save_and_submit(s, who, now, sub.id or 0, data, sub.version)
        self.counts["resubmissions" if resubmit else "submissions"] += 1

    # -- 11:00, the reviewers

    def review(self, engine: Engine, today: dt.date) -> None:
        """11:00: reviewers decide what reached them before today; the last level returns a report up to
        its drawn number of times, then approves."""
        now = at(today, 11)
        with Session(engine) as s:
            waiting = s.exec(select(Submission.id, Submission.updated_at).where(Submission.status == "in_review")
                             .order_by(col(Submission.id))).all()
        # what reached a reviewer today waits for tomorrow (checked again in the decision's transaction)
        ids = [sub_id for sub_id, updated_at in waiting if china_date(updated_at) < today]
        for sub_id in ids:
            try:
                with session_scope(engine) as s:
                    self._decide_one(s, sub_id or 0, today, now)
            except DubanError as exc:
                self.errors.append(f"{today} submission {sub_id}: {exc.detail}")

    def _decide_one(self, s: Session, sub_id: int, today: dt.date, now: dt.datetime) -> None:
        sub = s.get(Submission, sub_id)
        if sub is None or sub.status != "in_review" or china_date(sub.updated_at) >= today:
            return
        _, spec = review.review_spec(s, sub)
        level, final, users = review.deciders(s, sub)
        deciders = sorted(users, key=lambda u: u.id or 0)
        if not deciders:
            self.errors.append(f"{today} submission {sub_id}: nobody may decide at {level.name}")
            return
        rng = random.Random(f"{self.seed}:returns:{sub.obligation_id}:{sub.slot}")
        wanted = min(rng.choices((0, 1, 2), weights=(6, 3, 1))[0], self.max_returns, spec.max_return_rounds)
        who = principal_for(s, deciders[0])
        checklist = gate_checks.checklist(s, sub, now)
        failed = [i for i in checklist if i.status is CheckStatus.FAILED]
        if any(i.kind == REQUIRES for i in failed):
            self.counts["waits_for_a_gate"] += 1  # the reviewer waits until the gate required first has passed
        elif failed or (final and sub.returns < wanted):
            comment = ("审查项不符合：" + "；".join(i.name for i in failed) if failed
                       else RETURN_COMMENTS[((sub.id or 0) + sub.returns) % len(RETURN_COMMENTS)])
            review.decide(s, who, now, sub_id, decision="return", comment=comment, version=sub.version)
            self.counts["returns"] += 1
        else:
            review.decide(s, who, now, sub_id, decision="approve", comment=None, version=sub.version, checks=met(checklist))
            self.counts["approvals"] += 1


def _evidence(s: Session, who: Principal, now: dt.datetime, sub: Submission) -> tuple[Submission, int]:
    """The draft's evidence file: the one it holds, or a meeting record uploaded now (after taking over the
    system's draft, which nobody may attach to)."""
    existing = [a for a in (sub.data or {}).values() if isinstance(a, list) and a and isinstance(a[0], int)]
    if existing:
        return sub, existing[0][0]
    if sub.created_by is None:  # take over the system's draft first
        sub = review.create_submission(s, who, now, obligation_id=sub.obligation_id or 0, subject=None, data={},
                                       submit=False)
    attachment = review.add_attachment(s, who, now, sub.id or 0, filename="党委会议纪要.pdf",
                                       content_type="application/pdf", content=EVIDENCE)
    return sub, attachment.id or 0
