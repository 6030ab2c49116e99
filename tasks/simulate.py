"""``duban simulate``: a whole campaign year on a virtual clock, with the real tasks, outbox and SMTP.

A fresh database gets a generated county (N townships × M villages, seeded), its accounts and the
campaigns of one or more years, launched with :func:`tasks.launch.launch_many` (the task function,
not the Prefect flow: no Prefect start-up cost, the same code). The clock then steps day by day:

* 09:00 China time the steps of the ``tick`` flow run exactly as ``flows/tick.py`` composes them
  (advance_stages, mark_missed, climb_ladder, close_notice_periods in one transaction; then
  open_obligations, enqueue_reminders, build_digests each in its own); every seventh day (and after a
  restart) a second tick at 15:00 proves the steps idempotent;
* 10:00 the townships' liaisons act (tasks/review.py) after a seeded behaviour model: on time, late,
  never, or hollow ("无", "暂无": the zero-report escalation of tasks/escalation.py);
* 11:00 reviewers decide, returning some reports 0–2 times before approving;
* after every step the outbox is delivered by :func:`notifications.delivery.deliver_pending` through
  :class:`notifications.mailer.SmtpMailer` to a real aiosmtpd server on a free loopback port.

Faults on request: an SMTP outage of K days (messages back off, may be dead-lettered, and the
administrator re-queues the dead ones when the server is back), process restarts (engines disposed,
caches cleared, after a tick that crashed half-way), and a clock jump (several days without any tick).

At the end the invariants are checked from the database and from what the SMTP server received
(see :func:`check_invariants`). The same seed gives the same summary.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import email
import email.policy
import logging
import os
import random
import shutil
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.clock import CHINA_TZ, china_date
from core.net import free_port
from domain import escalation as escalation_rules
from domain.calendar import reminder_dates
from domain.definitions import Definition, FieldType
from domain.errors import DubanError

TOWNSHIP_HEADS = "青白云金松龙梨石双凤桃柳清马黄新太平安永兴长富红东西南北"
TOWNSHIP_TAILS = ("镇", "乡")
PROFILES = ("on_time", "late", "never", "hollow")
PROFILE_LABELS = {"on_time": "按时报送", "late": "逾期报送", "never": "从不报送", "hollow": "空泛报送（零上报）"}
ADHERENCE = 0.8  # share of a township's deadlines that follow its profile (the rest: on time)
HOLLOW = ("无", "暂无", "无。", "暂无。", "同上")
RETURN_COMMENTS = (
    "存在问题找得不准，请逐村细化", "整改措施针对性不强，请按“八治”思路补充", "取得的成效请用数据说明",
    "责任人和整改时限不明确，请补充", "下步打算过于笼统，请具体到月",
)


# ---- configuration and result ---------------------------------------------------------------------


@dataclass
class SimulationConfig:
    townships: int = 3
    villages: int = 4  # per township
    year: int = 2026
    years: int = 1  # campaign years launched: year, year+1, …
    seed: int = 1
    definition: str = "weak_village_rectification"
    on_time: float = 0.6  # shares of townships by behaviour profile
    late: float = 0.2
    never: float = 0.1
    hollow: float = 0.1
    max_returns: int = 2  # reviewers return a report 0..max_returns times (bounded by the definition)
    smtp_outage_days: int = 0
    restarts: int = 0
    clock_jump: int = 0  # days skipped at once (0: none)
    second_tick_every: int = 7
    days: int | None = None  # stop after this many days (default: the whole campaign and its ladder)
    database_url: str | None = None  # default: a fresh SQLite file in a temporary directory
    report: Path | None = None

    def shares(self) -> dict[str, float]:
        values = {"on_time": self.on_time, "late": self.late, "never": self.never, "hollow": self.hollow}
        if any(v < 0 for v in values.values()) or sum(values.values()) <= 0:
            raise ValueError("behaviour shares must be non-negative and not all zero")
        return values


@dataclass
class Invariant:
    name: str
    ok: bool
    checked: int
    problems: list[str] = field(default_factory=list)


@dataclass
class SimulationResult:
    summary: dict[str, Any]
    invariants: list[Invariant]
    timings: dict[str, float]
    report_path: Path | None = None
    database_url: str = ""

    @property
    def ok(self) -> bool:
        return all(i.ok for i in self.invariants)


class SimulationFailed(Exception):
    def __init__(self, result: SimulationResult) -> None:
        bad = [i for i in result.invariants if not i.ok]
        super().__init__("；".join(f"{i.name}：{'；'.join(i.problems[:3])}" for i in bad))
        self.result = result


# ---- the county -----------------------------------------------------------------------------------


def county_rows(seed: int, townships: int, villages: int) -> list[tuple[int, dict[str, Any]]]:
    """N townships × M villages (seeded), built on :func:`tasks.org.demo_county_rows`; townships past
    the twelve named ones get generated names instead of 第N乡."""
    from tasks.org import demo_county_rows

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
        user["password"] = "simulation-only-2027"
    return users


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


# ---- the SMTP server ------------------------------------------------------------------------------


@dataclass
class Received:
    to: str
    subject: str
    message_id: str
    at: dt.datetime | None


@dataclass
class RecordingHandler:
    received: list[Received] = field(default_factory=list)
    virtual_now: dt.datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append(Received(rcpt, str(parsed["Subject"]), str(parsed["Message-ID"]), self.virtual_now))
        return "250 2.0.0 Message accepted for delivery"



class SmtpServer:
    """aiosmtpd on a free loopback port; stop() and start() again on the same port for an outage."""

    def __init__(self) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self._controller: Any = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


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


# ---- the simulation -------------------------------------------------------------------------------


@dataclass
class _Plan:
    behaviour: str
    day: dt.date | None


@dataclass
class _State:
    config: SimulationConfig
    engine: Engine
    smtp: SmtpServer
    definitions: dict[str, Definition]
    profiles: dict[str, str]
    tick_moments: list[dt.datetime] = field(default_factory=list)
    request_moments: list[dt.datetime] = field(default_factory=list)
    days_visited: list[dt.date] = field(default_factory=list)
    people_errors: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    daily_mail: Counter[dt.date] = field(default_factory=Counter)
    faults: dict[str, Any] = field(default_factory=dict)
    weak_choice: dict[int, list[str]] = field(default_factory=dict)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHINA_TZ)


@contextmanager
def _environment(url: str) -> Iterator[None]:
    """Point duban's settings (and every cached engine) at the simulation's database for the run."""
    from core.db import reset_engines
    from core.settings import get_settings

    saved = {k: os.environ.get(k) for k in ("DUBAN_DATABASE_URL", "DUBAN_PASSWORD_HASHING", "DUBAN_SMTP_SINK")}
    os.environ["DUBAN_DATABASE_URL"] = url
    os.environ["DUBAN_PASSWORD_HASHING"] = "cheap"  # the simulated people never sign in
    os.environ["DUBAN_SMTP_SINK"] = "false"
    get_settings.cache_clear()
    reset_engines()
    try:
        yield
    finally:
        reset_engines()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


def _restart() -> None:
    """What a process restart loses: pooled connections and every in-process cache."""
    from core.db import reset_engines
    from core.settings import get_settings
    from tasks import registry

    reset_engines()
    get_settings.cache_clear()
    registry._load.cache_clear()


def run_tick(engine: Engine, now: dt.datetime, *, crash_after_first: bool = False) -> bool:
    """The ``tick`` flow's steps (flows/tick.py) in its order and with its transactions.

    With ``crash_after_first`` only the first transaction runs (a process dying mid-tick); returns
    whether the whole tick ran."""
    from core.db import session_scope
    from core.settings import get_settings
    from tasks.review import close_notice_periods
    from tasks.tick import advance_stages, build_digests, climb_ladder, enqueue_reminders, mark_missed, open_obligations

    today = china_date(now)
    with session_scope(engine) as s:
        advance_stages(s, today)
        mark_missed(s, today)
        climb_ladder(s, now)
        close_notice_periods(s, now)
    if crash_after_first:
        return False
    with session_scope(engine) as s:
        open_obligations(s, now)
    with session_scope(engine) as s:
        enqueue_reminders(s, now)
    with session_scope(engine) as s:
        build_digests(s, now, get_settings().digest_hour)
    return True


async def deliver(state: _State, now: dt.datetime) -> None:
    """Deliver until nothing more is due (SmtpMailer → the simulation's server)."""
    from core.db import get_engine
    from notifications.delivery import deliver_pending
    from notifications.mailer import SmtpMailer

    state.smtp.handler.virtual_now = now
    mailer = SmtpMailer("127.0.0.1", state.smtp.port, timeout=5)
    while True:
        stats = await deliver_pending(get_engine(), mailer, now, holder="simulate", batch=200)
        state.counts["mail_sent"] += stats.sent
        state.counts["mail_retried"] += stats.retried
        state.counts["mail_dead"] += stats.dead
        state.daily_mail[china_date(now)] += stats.sent
        if stats.sent == 0:
            return


def _retry_dead(state: _State, now: dt.datetime) -> int:
    from core.db import get_engine, session_scope
    from models import OutboxMessage
    from notifications.delivery import retry_dead

    with session_scope(get_engine()) as s:
        ids = list(s.exec(select(OutboxMessage.id).where(OutboxMessage.status == "dead").order_by(col(OutboxMessage.id))))
        for outbox_id in ids:
            retry_dead(s, outbox_id or 0, now)
    state.counts["mail_requeued"] += len(ids)
    return len(ids)


def _plan_for(state: _State, township_code: str, ob_key: str, opens_on: dt.date, due_on: dt.date,
              hollow_ok: bool) -> _Plan:
    rng = random.Random(f"{state.config.seed}:{township_code}:{ob_key}")
    profile = state.profiles.get(township_code, "on_time")
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
    return _Plan(behaviour, day)


def _fill(state: _State, definition: Definition, form_key: str, *, hollow: bool, round_: int, township: Any,
          subject: Any, villages: list[str], due_on: dt.date, today: dt.date, attachment_id: int | None,
          rng: random.Random) -> dict[str, Any]:
    form = definition.form(form_key)
    data: dict[str, Any] = {}
    n_villages = max(1, len(villages))
    for f in form.fields:
        if f.type is FieldType.TEXTAREA:
            if hollow:
                if f.required or f.required_when_empty:
                    data[f.key] = rng.choice(HOLLOW)
                continue
            if f.required_when_empty and villages:
                continue  # only needed when the list is empty
            key = "problems_week" if (f.key == "problems" and form_key.startswith("weekly")) else f.key
            text = _text(key, rng, township.name, n_villages * 3, n_villages, )
            if round_ > 1:
                text += f"（第{round_}轮修改：按审核意见补充了具体数据和时限）"
            data[f.key] = text
        elif f.type is FieldType.TEXT:
            data[f.key] = {"responsible_person": f"{township.name[:1]}书记", "helping_units": "县农业农村局",
                           "county_leader_contact": "李副县长"}.get(f.key, f"{subject.name}{f.label}")
        elif f.type is FieldType.DATE:
            day = due_on + dt.timedelta(days=180) if "limit" in f.key else today - dt.timedelta(days=3)
            data[f.key] = day.isoformat()
        elif f.type is FieldType.NUMBER:
            data[f.key] = rng.randint(2, 6)
        elif f.type is FieldType.BOOLEAN:
            data[f.key] = True
        elif f.type is FieldType.SELECT:
            data[f.key] = f.options[0] if f.options else None
        elif f.type is FieldType.VILLAGES:
            if hollow:
                data[f.key] = []
            elif subject.kind == "village":
                data[f.key] = [subject.code]
            else:
                data[f.key] = villages
        elif f.type is FieldType.FILE and attachment_id is not None and (f.required or rng.random() < 0.5):
            data[f.key] = [attachment_id]
    if hollow and "villages" in data:  # an empty list needs its (hollow) reason
        for f in form.fields:
            if f.required_when_empty and f.type is FieldType.TEXTAREA:
                data[f.key] = rng.choice(HOLLOW)
    return {k: v for k, v in data.items() if v is not None}


def _weak_villages(state: _State, session: Session, township_id: int) -> list[str]:
    """The villages a township lists as weak: its key-contact villages and one more (seeded)."""
    if township_id not in state.weak_choice:
        from models import OrgUnit

        villages = list(session.exec(select(OrgUnit).where(OrgUnit.parent_id == township_id, OrgUnit.kind == "village")
                                     .order_by(col(OrgUnit.code))))
        chosen = {v.code for v in villages if v.key_contact_class}
        rng = random.Random(f"{state.config.seed}:weak:{township_id}")
        if villages:
            chosen.add(rng.choice(villages).code)
        state.weak_choice[township_id] = sorted(chosen)
    return state.weak_choice[township_id]


def _people_submit(state: _State, today: dt.date) -> None:
    """10:00: every liaison whose day has come submits (or resubmits a returned report)."""
    from core.db import get_engine, session_scope
    from models import Campaign, Obligation, OrgUnit

    now = at(today, 10)
    engine = get_engine()
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
        definition = state.definitions[definition_key]
        rule = definition.obligation(ob.rule_key)
        if not rule.form:
            continue
        zero = definition.escalation.triggers.zero_report
        hollow_ok = bool(zero.enabled and (zero.forms is None or rule.form in zero.forms))
        plan = _plan_for(state, code, ob.key, ob.opens_on, ob.due_on, hollow_ok)
        if plan.day is None or today < plan.day:
            continue
        try:
            with session_scope(engine) as s:
                _submit_one(state, s, ob.id or 0, plan, definition, today, now)
        except DubanError as exc:
            state.people_errors.append(f"{today} {ob.key}: {exc.detail}")


def _submit_one(state: _State, s: Session, ob_id: int, plan: _Plan, definition: Definition, today: dt.date,
                now: dt.datetime) -> None:
    from models import Campaign, Obligation, OrgUnit, Submission, User
    from tasks import review
    from tasks.accounts import principal_for

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
    township = s.get(OrgUnit, campaign.township_id)
    subject = s.get(OrgUnit, ob.subject_id)
    rule = definition.obligation(ob.rule_key)
    form = definition.form(rule.form or "")
    if sub is None:
        sub = review.create_submission(s, who, now, obligation_id=ob.id or 0, subject=None, data={}, submit=False)
    attachment_id = None
    if any(f.type is FieldType.FILE for f in form.fields):
        existing = [a for a in (sub.data or {}).values() if isinstance(a, list) and a and isinstance(a[0], int)]
        if existing:
            attachment_id = existing[0][0]
        else:
            if sub.created_by is None:  # take over the system's draft first
                sub = review.create_submission(s, who, now, obligation_id=ob.id or 0, subject=None, data={}, submit=False)
            attachment_id = review.add_attachment(
                s, who, now, sub.id or 0, filename="党委会议纪要.pdf", content_type="application/pdf",
                content=b"%PDF-1.4\n% duban simulation\n%%EOF\n").id
    rng = random.Random(f"{state.config.seed}:text:{ob.id}:{sub.round}")
    data = _fill(state, definition, form.key, hollow=plan.behaviour == "hollow", round_=sub.round + (sub.status == "returned"),
                 township=township, subject=subject, villages=_weak_villages(state, s, campaign.township_id),
                 due_on=ob.due_on, today=today, attachment_id=attachment_id, rng=rng)
    resubmit = sub.status == "returned"
    if sub.created_by is None:
        review.create_submission(s, who, now, obligation_id=ob.id or 0, subject=None, data=data, submit=True)
    else:
        sub = review.update_draft(s, who, now, sub.id or 0, data, sub.version)
        review.submit_submission(s, who, now, sub.id or 0, sub.version)
    state.counts["resubmissions" if resubmit else "submissions"] += 1


def _people_review(state: _State, today: dt.date) -> None:
    """11:00: reviewers decide what reached them before today; the last level returns a report up to
    its drawn number of times, then approves."""
    from core.db import get_engine, session_scope
    from models import Submission

    now = at(today, 11)
    engine = get_engine()
    with Session(engine) as s:
        ids = list(s.exec(select(Submission.id).where(Submission.status == "in_review").order_by(col(Submission.id))))
    for sub_id in ids:
        try:
            with session_scope(engine) as s:
                _decide_one(state, s, sub_id or 0, today, now)
        except DubanError as exc:
            state.people_errors.append(f"{today} submission {sub_id}: {exc.detail}")


def _decide_one(state: _State, s: Session, sub_id: int, today: dt.date, now: dt.datetime) -> None:
    from models import Submission
    from tasks import review
    from tasks.accounts import principal_for

    sub = s.get(Submission, sub_id)
    if sub is None or sub.status != "in_review" or china_date(sub.updated_at) >= today:
        return
    _, spec = review.review_spec(s, sub)
    chain = review._chain(spec)
    level = chain.levels[sub.current_level]
    deciders = sorted(review._users_who_decide(s, level, sub.township_id), key=lambda u: u.id or 0)
    if not deciders:
        state.people_errors.append(f"{today} submission {sub_id}: nobody may decide at {level.name}")
        return
    rng = random.Random(f"{state.config.seed}:returns:{sub.obligation_id}:{sub.slot}")
    wanted = min(rng.choices((0, 1, 2), weights=(6, 3, 1))[0], state.config.max_returns, spec.max_return_rounds)
    final = sub.current_level == len(chain.levels) - 1
    who = principal_for(s, deciders[0])
    if final and sub.returns < wanted:
        comment = RETURN_COMMENTS[((sub.id or 0) + sub.returns) % len(RETURN_COMMENTS)]
        review.decide(s, who, now, sub_id, decision="return", comment=comment, version=sub.version)
        state.counts["returns"] += 1
    else:
        review.decide(s, who, now, sub_id, decision="approve", comment=None, version=sub.version)
        state.counts["approvals"] += 1


def _setup(state: _State, launch_at: dt.datetime) -> list[str]:
    from core.db import get_engine, session_scope
    from models import OrgUnit
    from tasks.accounts import create_user
    from tasks.launch import launch_many

    cfg = state.config
    with session_scope(get_engine()) as s:
        from tasks.org import import_org_units

        import_org_units(s, county_rows(cfg.seed, cfg.townships, cfg.villages), source="simulation")
        s.flush()
        towns = {t.code: t.name for t in s.exec(select(OrgUnit).where(OrgUnit.kind == "township").order_by(col(OrgUnit.code)))}
        for spec in account_specs(towns):
            create_user(s, spec, launch_at)
    failed: list[str] = []
    for offset in range(cfg.years):
        year = cfg.year + offset
        # one chunk per launch_many call, as the batch flow does (settings.launch_chunk_size)
        codes = sorted(towns)
        for i in range(0, len(codes), 50):
            for item in launch_many(get_engine(), cfg.definition, codes[i:i + 50], year, launch_at):
                if item["status"] != "created":
                    failed.append(f"{item['township']} {year}: {item.get('detail')}")
    state.request_moments.append(launch_at)
    return failed


def _span(state: _State) -> tuple[dt.date, dt.date]:
    """From the first stage's opening to when the last deadline's ladder has been climbed."""
    from core.db import get_engine
    from models import Obligation, Stage
    from tasks.calendar import load_work_calendar

    definition = state.definitions[state.config.definition]
    with Session(get_engine()) as s:
        first = s.exec(select(func.min(Stage.opens_on))).one()
        last_close = s.exec(select(func.max(Stage.closes_on))).one()
        last_due = s.exec(select(func.max(Obligation.due_on))).one()
        calendar = load_work_calendar(s)
    delays = [lv.after_workdays for lv in definition.escalation.ladder]
    ladder_end = escalation_rules.level_dates(last_due, delays, calendar)[-1] if delays else last_due
    return first, max(last_close, ladder_end)


def _fault_days(state: _State, start: dt.date, end: dt.date) -> None:
    """Where the faults fall: the outage and the jump around the first distinct due dates; restarts
    evenly spread."""
    from core.db import get_engine
    from models import Obligation

    cfg = state.config
    with Session(get_engine()) as s:
        dues: list[dt.date] = sorted(set(s.exec(select(col(Obligation.due_on)).where(col(Obligation.due_on) >= start))))
    first_due = dues[0] if dues else start
    second_due = dues[1] if len(dues) > 1 else first_due
    if cfg.clock_jump > 0:
        jump_from = max(start + dt.timedelta(days=1), first_due - dt.timedelta(days=4))
        state.faults["clock_jump"] = (jump_from, jump_from + dt.timedelta(days=cfg.clock_jump - 1))
    if cfg.smtp_outage_days > 0:
        outage_from = max(start + dt.timedelta(days=1), second_due - dt.timedelta(days=2))
        state.faults["smtp_outage"] = (outage_from, outage_from + dt.timedelta(days=cfg.smtp_outage_days - 1))
    total = (end - start).days + 1
    state.faults["restarts"] = [start + dt.timedelta(days=(i + 1) * total // (cfg.restarts + 1)) for i in range(cfg.restarts)]


async def _run_days(state: _State, start: dt.date, end: dt.date, progress: Callable[[int, int], None] | None) -> None:
    cfg = state.config
    total = (end - start).days + 1
    jump = state.faults.get("clock_jump")
    outage = state.faults.get("smtp_outage")
    restarts = set(state.faults.get("restarts", []))
    for index in range(total):
        day = start + dt.timedelta(days=index)
        if progress:
            progress(index + 1, total)
        if jump and jump[0] <= day <= jump[1]:
            continue  # the clock jumps: nothing runs on these days
        if outage and day == outage[0]:
            state.smtp.stop()
        if outage and day == outage[1] + dt.timedelta(days=1) and not state.smtp.running:
            state.smtp.start()
            _retry_dead(state, at(day, 8, 55))  # the administrator re-queues what was dead-lettered
        state.days_visited.append(day)
        morning = at(day, 9)
        second = index % max(1, cfg.second_tick_every) == 0
        from core.db import get_engine

        if day in restarts:
            run_tick(get_engine(), morning, crash_after_first=True)
            _restart()
            state.counts["restarts"] += 1
            second = True
        run_tick(get_engine(), morning)
        state.tick_moments.append(morning)
        state.request_moments.append(morning)
        await deliver(state, at(day, 9, 5))
        _people_submit(state, day)
        _people_review(state, day)
        await deliver(state, at(day, 11, 30))
        if second:
            afternoon = at(day, 15)
            run_tick(get_engine(), afternoon)
            state.tick_moments.append(afternoon)
            state.request_moments.append(afternoon)
            state.counts["second_ticks"] += 1
            await deliver(state, at(day, 15, 5))
    # the final delivery: the server is up again and whatever is left goes out
    if not state.smtp.running:
        state.smtp.start()
    final = at(end + dt.timedelta(days=1), 8)
    _retry_dead(state, final)
    await deliver(state, final)
    await deliver(state, final + dt.timedelta(hours=7))  # past every back-off


def run_simulation(config: SimulationConfig, progress: Callable[[int, int], None] | None = None) -> SimulationResult:
    """Run the simulation; the result carries the summary, the invariants and the timings."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    tmp: Path | None = None
    url = config.database_url
    if not url:
        tmp = Path(tempfile.mkdtemp(prefix="duban-sim-"))
        url = f"sqlite:///{tmp / f'simulation-{config.seed}.db'}"
    config.shares()
    smtp = SmtpServer()
    smtp.start()
    # The outage's retries are expected: the delivery log would print one warning per message.
    delivery_log = logging.getLogger("notifications.delivery")
    level = delivery_log.level
    delivery_log.setLevel(logging.ERROR)
    try:
        with _environment(url):
            from core.db import get_engine
            from models.migrate import upgrade
            from tasks.registry import get_definitions

            upgrade(url)
            definitions = get_definitions()
            if config.definition not in definitions:
                raise ValueError(f"unknown definition {config.definition}; known: {', '.join(sorted(definitions))}")
            codes = [f"QX{t + 1:02d}" for t in range(config.townships)]
            state = _State(config, get_engine(), smtp, definitions, township_profiles(config.seed, codes, config.shares()))
            timings["setup"] = time.perf_counter() - started
            launch_day = _first_open(state)
            t0 = time.perf_counter()
            failed = _setup(state, at(launch_day, 8, 30))
            if failed:
                raise RuntimeError("launch failed: " + "; ".join(failed[:5]))
            timings["launch"] = time.perf_counter() - t0
            start, end = _span(state)
            start = max(start, launch_day)
            if config.days is not None:
                end = min(end, start + dt.timedelta(days=config.days - 1))
            _fault_days(state, start, end)
            t0 = time.perf_counter()
            asyncio.run(_run_days(state, start, end, progress))
            timings["days"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            invariants = check_invariants(state, end)
            summary = summarise(state, start, end)
            timings["checks"] = time.perf_counter() - t0
            result = SimulationResult(summary, invariants, timings, database_url=url if not tmp else "")
            if config.report is not None:
                result.report_path = write_report(result, config.report)
            timings["total"] = time.perf_counter() - started
            return result
    finally:
        delivery_log.setLevel(level)
        smtp.stop()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _first_open(state: _State) -> dt.date:
    """The launch day: the first stage's opening of the first campaign year (no DB rows yet)."""
    definition = state.definitions[state.config.definition]
    from core.db import get_engine
    from domain.planning import OrgRef, plan_campaign
    from tasks.calendar import load_work_calendar

    with Session(get_engine()) as s:
        calendar = load_work_calendar(s)
    plan = plan_campaign(definition, OrgRef("T", "T", "township", None, None), [], state.config.year, calendar,
                         dt.date(state.config.year, 1, 1) - dt.timedelta(days=400))
    return min(s.opens_on for s in plan.stages)


# ---- invariants -----------------------------------------------------------------------------------


def _obligation_events(s: Session) -> dict[int, list[tuple[dt.datetime, str]]]:
    """Per obligation, its submits and returns in time order (what makes it submitted or open)."""
    from models import Review, Submission, SubmissionRound

    events: dict[int, list[tuple[dt.datetime, str]]] = defaultdict(list)
    for ob_id, when in s.exec(select(Submission.obligation_id, SubmissionRound.submitted_at)
                              .join(Submission, col(SubmissionRound.submission_id) == Submission.id)):
        events[ob_id or 0].append((when, "submit"))
    for ob_id, when in s.exec(select(Submission.obligation_id, Review.created_at)
                              .join(Submission, col(Review.submission_id) == Submission.id)
                              .where(Review.decision == "return")):
        events[ob_id or 0].append((when, "return"))
    for rows in events.values():
        rows.sort()
    return events


def _due_changes(s: Session) -> dict[int, list[tuple[dt.datetime, dt.date, dt.date]]]:
    """Per obligation, its deadline moves (a late return's revision time): (when, before, after)."""
    from models import AuditEvent

    changes: dict[int, list[tuple[dt.datetime, dt.date, dt.date]]] = defaultdict(list)
    for e in s.exec(select(AuditEvent).where(AuditEvent.action == "obligation.revision_due").order_by(col(AuditEvent.seq))):
        before, after = e.before or {}, e.after or {}
        changes[e.subject_id].append((e.at, dt.date.fromisoformat(str(before["due_on"])),
                                      dt.date.fromisoformat(str(after["due_on"]))))
    return changes


def _due_at(changes: list[tuple[dt.datetime, dt.date, dt.date]], final: dt.date, moment: dt.datetime) -> dt.date:
    """The deadline in force at ``moment``."""
    due = changes[0][1] if changes else final
    for when, _, after in changes:
        if when > moment:
            break
        due = after
    return due


def _submitted_at(events: list[tuple[dt.datetime, str]], moment: dt.datetime) -> bool:
    state = False
    for when, kind in events:
        if when > moment:
            break
        state = kind == "submit"
    return state


def check_invariants(state: _State, end: dt.date) -> list[Invariant]:
    from core.db import get_engine
    from models import Campaign, Escalation, Obligation, OutboxMessage, ReminderLog, User
    from tasks.audit import verify_chain
    from tasks.calendar import load_work_calendar

    out: list[Invariant] = []
    engine = get_engine()
    with Session(engine) as s:
        calendar = load_work_calendar(s)
        obligations = list(s.exec(select(Obligation, Campaign).join(Campaign, col(Obligation.campaign_id) == Campaign.id)
                                  .order_by(col(Obligation.id))))
        submitters: dict[int, list[int]] = defaultdict(list)
        for user in s.exec(select(User).where(User.role == "submitter", User.active == True)):  # noqa: E712
            submitters[user.org_unit_id or 0].append(user.id or 0)
        logs = list(s.exec(select(ReminderLog)))
        outbox = list(s.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))
        escalations = list(s.exec(select(Escalation).where(Escalation.trigger == "overdue")))
        events = _obligation_events(s)
        due_changes = _due_changes(s)
        audit = verify_chain(s)

    # 1. reminders: each (obligation, offset, recipient) once, and every one the rules require
    ticks = sorted(state.tick_moments)
    tick_days = [china_date(t) for t in ticks]
    expected: set[tuple[int, int, int]] = set()
    expected_requests: set[tuple[int, int]] = set()
    request_days = sorted(china_date(t) for t in state.request_moments)
    for ob, campaign in obligations:
        definition = state.definitions[campaign.definition_key]
        rule = definition.obligation(ob.rule_key)
        spec = rule.reminders or definition.reminders
        moves = due_changes.get(ob.id or 0, [])
        dates_for = {due: reminder_dates(due, spec.offsets, spec.unit, calendar)
                     for due in {ob.due_on, *(m[1] for m in moves), *(m[2] for m in moves)}}
        ob_events = events.get(ob.id or 0, [])
        users = submitters.get(campaign.township_id, [])
        lo = bisect.bisect_left(tick_days, ob.opens_on)
        hi = bisect.bisect_right(tick_days, ob.due_on)
        for moment in ticks[lo:hi]:
            today = china_date(moment)
            due = _due_at(moves, ob.due_on, moment)
            if today > due:
                continue
            passed = [off for off, day in dates_for[due] if day <= today]
            if not passed or _submitted_at(ob_events, moment):
                continue
            for user_id in users:
                expected.add((ob.id or 0, passed[-1], user_id))
        i = bisect.bisect_left(request_days, ob.opens_on)
        if i < len(request_days) and request_days[i] <= ob.due_on:
            for user_id in users:
                expected_requests.add((ob.id or 0, user_id))
    actual = Counter((r.obligation_id, r.offset, r.user_id) for r in logs if r.offset >= 0)
    twice = [k for k, n in actual.items() if n > 1]
    missing = sorted(expected - set(actual))
    extra = sorted(set(actual) - expected)
    out.append(Invariant("每条规则要求的提醒恰好发送一次", not (twice or missing or extra), len(expected),
                         [f"重复 {k}" for k in twice[:5]] + [f"缺少 {k}" for k in missing[:5]] + [f"多余 {k}" for k in extra[:5]]))
    requests = Counter((r.obligation_id, r.user_id) for r in logs if r.offset < 0)
    bad_requests = sorted(expected_requests ^ set(requests)) + [k for k, n in requests.items() if n > 1]
    out.append(Invariant("每个报送窗口的报送通知恰好发送一次", not bad_requests, len(expected_requests),
                         [f"报送通知不符 {k}" for k in bad_requests[:5]]))

    # 2. no request, reminder or overdue escalation mail while the obligation stood submitted
    after: list[str] = []
    checked = 0
    for m in outbox:
        kind = m.key.split(":", 2)
        ob_id: int | None = None
        if kind[0] in ("request", "reminder"):
            ob_id = int(kind[1])
        elif kind[0] == "escalation" and kind[1] == "overdue":
            ob_id = int(m.key.split(":")[2])
        if ob_id is None:
            continue
        checked += 1
        if _submitted_at(events.get(ob_id, []), m.created_at):
            after.append(f"{m.key} 写于 {m.created_at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M}，事项已报送")
    out.append(Invariant("报送后不再发送提醒或催办邮件", not after, checked, after[:10]))

    # 3. every missed obligation at the level its lateness requires, every level recorded
    last_day = max(tick_days) if tick_days else end
    by_ob: dict[int, set[int]] = defaultdict(set)
    for esc in escalations:
        by_ob[esc.obligation_id or 0].add(esc.level)
    wrong: list[str] = []
    missed = 0
    for ob, campaign in obligations:
        definition = state.definitions[campaign.definition_key]
        delays = [lv.after_workdays for lv in definition.escalation.ladder]
        if ob.status == "missed" and definition.escalation.triggers.overdue.enabled:
            missed += 1
            target = escalation_rules.level_reached(ob.due_on, delays, calendar, last_day)
            if ob.escalation_level != target:
                wrong.append(f"{ob.key}：级别 {ob.escalation_level}，应为 {target}")
        if ob.escalation_level and by_ob[ob.id or 0] != set(range(1, ob.escalation_level + 1)):
            wrong.append(f"{ob.key}：记录的级别 {sorted(by_ob[ob.id or 0])}，应为 1..{ob.escalation_level}")
    out.append(Invariant("逾期事项升级到其逾期天数要求的级别", not wrong, missed, wrong[:10]))

    # 4. a climb over several levels at once (after a clock jump) mails only the highest
    mailed_levels: dict[tuple[int, dt.datetime], set[int]] = defaultdict(set)
    recorded: dict[tuple[int, dt.datetime], set[int]] = defaultdict(set)
    for esc in escalations:
        recorded[(esc.obligation_id or 0, esc.created_at)].add(esc.level)
    for m in outbox:
        parts = m.key.split(":")
        if parts[0] == "escalation" and parts[1] == "overdue":
            mailed_levels[(int(parts[2]), m.created_at)].add(int(parts[3]))
    stale = [f"事项 {ob} 于 {when.astimezone(CHINA_TZ):%Y-%m-%d} 记录 {sorted(levels)} 级，邮件发送了 {sorted(mailed_levels[(ob, when)])} 级"
             for (ob, when), levels in recorded.items() if mailed_levels.get((ob, when), set()) - {max(levels)}]
    out.append(Invariant("一次升级多级时只发送最高一级的邮件", not stale, len(recorded), stale[:10]))

    # 5. the outbox: unique keys, nothing left, every message received once by the SMTP server
    keys = Counter(m.key for m in outbox)
    dup_keys = [k for k, n in keys.items() if n > 1]
    left = Counter(m.status for m in outbox if m.status != "sent")
    out.append(Invariant("发件箱无重复键、最终全部投递", not dup_keys and not left, len(outbox),
                         [f"重复键 {k}" for k in dup_keys[:5]] + [f"{status} {n} 封" for status, n in left.items()]))
    received = Counter(r.message_id for r in state.smtp.handler.received)
    ids = {m.message_id for m in outbox}
    twice_received = [mid for mid, n in received.items() if n > 1]
    unknown = set(received) - ids
    never = ids - set(received)
    out.append(Invariant("SMTP 服务器收到每封邮件恰好一次", not (twice_received or unknown or never), len(ids),
                         [f"重复收到 {len(twice_received)} 封", f"未知 {len(unknown)} 封", f"未收到 {len(never)} 封"]
                         if (twice_received or unknown or never) else []))

    # 6. a final approval concludes its obligation (met or late)
    with Session(engine) as s:
        from models import Submission

        subs: dict[int, list[str]] = defaultdict(list)
        for ob_id, status in s.exec(select(Submission.obligation_id, Submission.status)):
            subs[ob_id or 0].append(status)
    stuck = [f"{ob.key}（{ob.status}）" for ob, _ in obligations
             if ob.status in ("open", "submitted") and subs.get(ob.id or 0)
             and all(st == "approved" for st in subs[ob.id or 0] if st != "withdrawn")]
    out.append(Invariant("审核通过的材料使其事项办结", not stuck,
                         sum(1 for v in subs.values() if v and all(st == "approved" for st in v)),
                         ([f"{len(stuck)} 项已全部审核通过但事项仍未办结"] if stuck else []) + stuck[:5]))

    # 7. the audit chain
    out.append(Invariant("审计链校验通过", audit.ok, audit.checked, [audit.reason or ""] if not audit.ok else []))
    if state.people_errors:
        out.append(Invariant("模拟人员的操作均被系统接受", False, len(state.people_errors), state.people_errors[:10]))
    return out


# ---- summary and report ---------------------------------------------------------------------------


def summarise(state: _State, start: dt.date, end: dt.date) -> dict[str, Any]:
    """The numbers of the run (deterministic for a seed: no timings, no ids of the environment)."""
    from core.db import get_engine
    from models import (
        AccountabilityCase,
        Campaign,
        Escalation,
        Obligation,
        OfficialDocument,
        OrgUnit,
        OutboxMessage,
        ReminderLog,
        Submission,
    )

    cfg = state.config
    with Session(get_engine()) as s:
        obligations = list(s.exec(select(Obligation, Campaign, OrgUnit)
                                  .join(Campaign, col(Obligation.campaign_id) == Campaign.id)
                                  .join(OrgUnit, col(Campaign.township_id) == OrgUnit.id).order_by(col(Obligation.id))))
        escalations = list(s.exec(select(Escalation).order_by(col(Escalation.id))))
        ladder = state.definitions[cfg.definition].escalation.ladder
        outbox = list(s.exec(select(OutboxMessage.key, OutboxMessage.status, OutboxMessage.created_at)))
        logs = list(s.exec(select(ReminderLog.offset)))
        documents = s.exec(select(func.count()).select_from(OfficialDocument)).one()
        cases = s.exec(select(func.count()).select_from(AccountabilityCase)).one()
        submissions = Counter(s.exec(select(Submission.status)))
        towns = list(s.exec(select(OrgUnit).where(OrgUnit.kind == "township").order_by(col(OrgUnit.code))))
        cases_by_town = Counter(s.exec(select(AccountabilityCase.township_id)))
    last_day = state.days_visited[-1] if state.days_visited else end
    status: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    by_town: dict[int, Counter[str]] = defaultdict(Counter)
    for ob, campaign, _town in obligations:
        if ob.due_on > last_day:
            outcome = "not_due"
        elif ob.status == "met":
            outcome = "on_time"
        elif ob.status in ("late", "missed"):
            outcome = ob.status
        else:
            outcome = "pending"  # submitted or in review at the end
        status[outcome] += 1
        by_kind[ob.kind][outcome] += 1
        by_town[campaign.township_id][outcome] += 1
    esc_levels = Counter(e.level for e in escalations)
    esc_mailed: Counter[Any] = Counter()
    for key, _status, _at in outbox:
        parts = key.split(":")
        if parts[0] == "escalation":
            esc_mailed[int(parts[3]) if parts[1] in ("overdue", "measures_overdue") else parts[1]] += 1
    weekly: Counter[str] = Counter()
    for _key, _status, created in outbox:
        monday = china_date(created) - dt.timedelta(days=china_date(created).weekday())
        weekly[monday.isoformat()] += 1
    esc_by_town = Counter(e.township_id for e in escalations)
    return {
        "config": {"townships": cfg.townships, "villages": cfg.villages, "year": cfg.year, "years": cfg.years,
                   "seed": cfg.seed, "definition": cfg.definition,
                   "shares": cfg.shares(), "smtp_outage_days": cfg.smtp_outage_days, "restarts": cfg.restarts,
                   "clock_jump": cfg.clock_jump},
        "period": [start.isoformat(), end.isoformat()],
        "days": len(state.days_visited),
        "ticks": len(state.tick_moments),
        "obligations": {"total": len(obligations), "due": sum(v for k, v in status.items() if k != "not_due"),
                        "on_time": status["on_time"], "late": status["late"], "missed": status["missed"],
                        "pending": status["pending"], "not_due": status["not_due"]},
        "obligations_by_kind": {k: dict(sorted(v.items())) for k, v in sorted(by_kind.items())},
        "submissions": {"first": state.counts["submissions"], "resubmitted": state.counts["resubmissions"],
                        "returns": state.counts["returns"], "approvals": state.counts["approvals"],
                        "by_status": dict(sorted(submissions.items()))},
        "requests": sum(1 for off in logs if off < 0),
        "reminders": sum(1 for off in logs if off >= 0),
        "escalations": {f"{i + 1} {lv.name}": esc_levels.get(i + 1, 0) for i, lv in enumerate(ladder)},
        "escalations_by_trigger": dict(sorted(Counter(e.trigger for e in escalations).items())),
        "escalation_mails": {str(k): v for k, v in sorted(esc_mailed.items(), key=lambda kv: str(kv[0]))},
        "documents": int(documents),
        "cases": int(cases),
        "mail": {"outbox": len(outbox), "sent": sum(1 for _, st, _ in outbox if st == "sent"),
                 "received": len(state.smtp.handler.received), "retried": state.counts["mail_retried"],
                 "dead_lettered": state.counts["mail_dead"], "requeued": state.counts["mail_requeued"],
                 "by_kind": dict(sorted(Counter(k.split(":")[0] for k, _, _ in outbox).items()))},
        "mail_per_week": dict(sorted(weekly.items())),
        "faults": {"smtp_outage": [d.isoformat() for d in state.faults.get("smtp_outage", ())],
                   "clock_jump": [d.isoformat() for d in state.faults.get("clock_jump", ())],
                   "restarts": [d.isoformat() for d in state.faults.get("restarts", [])],
                   "second_ticks": state.counts["second_ticks"]},
        "people_errors": len(state.people_errors),
        "townships": [{"code": t.code, "name": t.name, "profile": state.profiles.get(t.code, "on_time"),
                       "on_time": by_town[t.id or 0]["on_time"], "late": by_town[t.id or 0]["late"],
                       "missed": by_town[t.id or 0]["missed"], "pending": by_town[t.id or 0]["pending"],
                       "escalations": esc_by_town[t.id or 0], "cases": cases_by_town[t.id or 0]} for t in towns],
    }


def _bars(items: list[tuple[str, int]], *, width: int = 560, bar: int = 22, color: str = "#b22222") -> str:
    """A horizontal bar chart as inline SVG (no external assets)."""
    from markupsafe import escape

    top = max((v for _, v in items), default=0) or 1
    label_w = 170
    height = bar * len(items) + 8
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for i, (label, value) in enumerate(items):
        y = 4 + i * bar
        w = int((width - label_w - 60) * value / top)
        parts.append(f'<text x="{label_w - 6}" y="{y + bar * 0.7:.0f}" text-anchor="end" font-size="13">{escape(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{max(w, 1)}" height="{bar - 6}" fill="{color}"/>')
        parts.append(f'<text x="{label_w + w + 6}" y="{y + bar * 0.7:.0f}" font-size="12">{value}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _columns(items: list[tuple[str, int]], *, height: int = 160, color: str = "#1f5fa8") -> str:
    """A column chart (mail per week) as inline SVG."""
    from markupsafe import escape

    top = max((v for _, v in items), default=0) or 1
    step = 9
    width = max(200, step * len(items) + 50)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 30}" role="img">']
    for i, (label, value) in enumerate(items):
        h = int(height * value / top)
        parts.append(f'<rect x="{40 + i * step}" y="{height - h}" width="{step - 2}" height="{max(h, 0)}" fill="{color}">'
                     f"<title>{escape(label)}：{value} 封</title></rect>")
    parts.append(f'<text x="0" y="12" font-size="11">{top}</text><text x="0" y="{height}" font-size="11">0</text>')
    if items:
        parts.append(f'<text x="40" y="{height + 20}" font-size="11">{escape(items[0][0])}</text>')
        parts.append(f'<text x="{40 + (len(items) - 1) * step}" y="{height + 20}" font-size="11" text-anchor="end">'
                     f"{escape(items[-1][0])}</text>")
    parts.append("</svg>")
    return "".join(parts)


OUTCOME_LABELS = {"on_time": "按时完成", "late": "逾期完成", "missed": "逾期未报", "pending": "已报送待审核", "not_due": "未到期"}
KIND_LABELS = {"request": "报送通知", "reminder": "到期提醒", "escalation": "督办升级", "submitted": "待审核通知",
               "approve": "审核通过", "return": "退回修改", "digest": "每日汇总", "stage_passed": "阶段通过",
               "returns_exceeded": "退回超限", "reject": "不予通过", "veto": "一票否决"}


def write_report(result: SimulationResult, path: Path) -> Path:
    """The HTML report (zh-CN, inline SVG charts, no external assets)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    from markupsafe import Markup

    s = result.summary
    env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"]))
    ob = s["obligations"]
    charts = {
        "outcomes": Markup(_bars([(OUTCOME_LABELS[k], ob[k]) for k in ("on_time", "late", "missed", "pending", "not_due")],
                                 color="#2e7d32")),
        "escalations": Markup(_bars(list(s["escalations"].items()))),
        "mail": Markup(_bars([(KIND_LABELS.get(k, k), v) for k, v in s["mail"]["by_kind"].items()], color="#1f5fa8")),
        "weekly": Markup(_columns(list(s["mail_per_week"].items()))),
    }
    html = env.get_template("simulation_report.html").render(
        s=s, invariants=result.invariants, timings=result.timings, charts=charts, outcome_labels=OUTCOME_LABELS,
        profile_labels=PROFILE_LABELS, kind_labels=KIND_LABELS, ok=result.ok)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
