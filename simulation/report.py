"""The numbers of a run (:func:`summarise`, deterministic for a seed) and its HTML report (zh-CN, inline SVG
charts, no external assets)."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from sqlalchemy import func
from sqlmodel import Session, col, select

from core.clock import china_date
from domain.definitions import TRIGGER_LABELS
from domain.triggers import ESCALATION_MAIL, ESCALATION_MAIL_LABELS, parse_escalation_mail_key
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
from simulation.config import SimulationResult

if TYPE_CHECKING:
    from simulation.run import Run

PROFILE_LABELS = {"on_time": "按时报送", "late": "逾期报送", "never": "从不报送", "hollow": "空泛报送（零上报）"}
OUTCOME_LABELS = {"on_time": "按时完成", "late": "逾期完成", "missed": "逾期未报", "pending": "已报送待审核", "not_due": "未到期"}
# Mail by the first part of its outbox key (what the mail is, not what triggered an escalation).
KIND_LABELS = {"request": "报送通知", "reminder": "到期提醒", "submitted": "待审核通知",
               "approve": "审核通过", "return": "退回修改", "digest": "每日汇总", "stage_passed": "阶段通过",
               "reject": "不予通过", "veto": "一票否决", **ESCALATION_MAIL_LABELS}


# ---- reading outbox keys --------------------------------------------------------------------------


@dataclass(frozen=True)
class EscalationMail:
    trigger: str
    item_id: int  # the obligation, submission or village rectification the escalation is about
    level: int | None  # the ladder level, for the triggers that climb a ladder


def parse_escalation_key(key: str) -> EscalationMail | None:
    """The escalation step a ladder mail (``escalation:…``) is about, read by the trigger registry's own key
    parser (``domain.triggers``); None for every other mail."""
    mail = parse_escalation_mail_key(key)
    if mail is None or mail.kind != ESCALATION_MAIL:
        return None
    return EscalationMail(mail.step.trigger, mail.step.subject_id, mail.step.level)


# ---- the summary ----------------------------------------------------------------------------------


@dataclass
class _Rows:
    obligations: list[tuple[Obligation, Campaign, OrgUnit]]
    escalations: list[Escalation]
    outbox: list[tuple[str, str, dt.datetime]]  # key, status, created_at
    offsets: list[int]  # of every reminder log row
    documents: int
    cases: int
    submissions: Counter[str]
    towns: list[OrgUnit]
    cases_by_town: Counter[int]


def _read(run: Run) -> _Rows:
    with Session(run.engine) as s:
        return _Rows(
            obligations=list(s.exec(select(Obligation, Campaign, OrgUnit)
                                    .join(Campaign, col(Obligation.campaign_id) == Campaign.id)
                                    .join(OrgUnit, col(Campaign.township_id) == OrgUnit.id).order_by(col(Obligation.id)))),
            escalations=list(s.exec(select(Escalation).order_by(col(Escalation.id)))),
            outbox=list(s.exec(select(OutboxMessage.key, OutboxMessage.status, OutboxMessage.created_at))),
            offsets=list(s.exec(select(ReminderLog.offset))),
            documents=int(s.exec(select(func.count()).select_from(OfficialDocument)).one()),
            cases=int(s.exec(select(func.count()).select_from(AccountabilityCase)).one()),
            submissions=Counter(s.exec(select(Submission.status))),
            towns=list(s.exec(select(OrgUnit).where(OrgUnit.kind == "township").order_by(col(OrgUnit.code)))),
            cases_by_town=Counter(s.exec(select(AccountabilityCase.township_id))),
        )


def _outcome(ob: Obligation, last_day: dt.date) -> str:
    if ob.due_on > last_day:
        return "not_due"
    if ob.status == "met":
        return "on_time"
    if ob.status in ("late", "missed"):
        return ob.status
    return "pending"  # submitted or in review at the end


def _obligations(rows: _Rows, last_day: dt.date) -> tuple[dict[str, Any], dict[int, Counter[str]]]:
    """The obligations' outcomes: totals and by kind (the summary's parts), and by township."""
    status: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    by_town: dict[int, Counter[str]] = defaultdict(Counter)
    for ob, campaign, _town in rows.obligations:
        outcome = _outcome(ob, last_day)
        status[outcome] += 1
        by_kind[ob.kind][outcome] += 1
        by_town[campaign.township_id][outcome] += 1
    return {
        "obligations": {"total": len(rows.obligations), "due": sum(v for k, v in status.items() if k != "not_due"),
                        "on_time": status["on_time"], "late": status["late"], "missed": status["missed"],
                        "pending": status["pending"], "not_due": status["not_due"]},
        "obligations_by_kind": {k: dict(sorted(v.items())) for k, v in sorted(by_kind.items())},
    }, by_town


def _escalations(run: Run, rows: _Rows) -> dict[str, Any]:
    ladder = run.definitions[run.config.definition].escalation.ladder
    levels = Counter(e.level for e in rows.escalations)
    mailed: Counter[Any] = Counter()
    for key, _status, _at in rows.outbox:
        escalation = parse_escalation_key(key)
        if escalation is not None:
            mailed[escalation.level if escalation.level is not None else escalation.trigger] += 1
    return {
        "escalations": {f"{i + 1} {lv.name}": levels.get(i + 1, 0) for i, lv in enumerate(ladder)},
        "escalations_by_trigger": dict(sorted(Counter(e.trigger for e in rows.escalations).items())),
        "escalation_mails": {str(k): v for k, v in sorted(mailed.items(), key=lambda kv: str(kv[0]))},
    }


def _mail(run: Run, rows: _Rows) -> dict[str, Any]:
    weekly: Counter[str] = Counter()
    for _key, _status, created in rows.outbox:
        monday = china_date(created) - dt.timedelta(days=china_date(created).weekday())
        weekly[monday.isoformat()] += 1
    counts = run.counts
    return {
        "mail": {"outbox": len(rows.outbox), "sent": sum(1 for _, st, _ in rows.outbox if st == "sent"),
                 "received": len(run.smtp.handler.received), "retried": counts["mail_retried"],
                 "dead_lettered": counts["mail_dead"], "requeued": counts["mail_requeued"],
                 "by_kind": dict(sorted(Counter(k.split(":")[0] for k, _, _ in rows.outbox).items()))},
        "mail_per_week": dict(sorted(weekly.items())),
    }


def _townships(run: Run, rows: _Rows, by_town: dict[int, Counter[str]]) -> list[dict[str, Any]]:
    escalations = Counter(e.township_id for e in rows.escalations)
    return [{"code": t.code, "name": t.name, "profile": run.people.profiles.get(t.code, "on_time"),
             "on_time": by_town[t.id or 0]["on_time"], "late": by_town[t.id or 0]["late"],
             "missed": by_town[t.id or 0]["missed"], "pending": by_town[t.id or 0]["pending"],
             "escalations": escalations[t.id or 0], "cases": rows.cases_by_town[t.id or 0]} for t in rows.towns]


def summarise(run: Run, start: dt.date, end: dt.date) -> dict[str, Any]:
    """The numbers of the run (deterministic for a seed: no timings, no ids of the environment)."""
    cfg, counts = run.config, run.counts
    rows = _read(run)
    obligations, by_town = _obligations(rows, run.days_visited[-1] if run.days_visited else end)
    escalations = _escalations(run, rows)
    mail = _mail(run, rows)
    return {
        "config": {"townships": cfg.townships, "villages": cfg.villages, "year": cfg.year, "years": cfg.years,
                   "seed": cfg.seed, "definition": cfg.definition,
                   "shares": cfg.shares(), "smtp_outage_days": cfg.smtp_outage_days, "restarts": cfg.restarts,
                   "clock_jump": cfg.clock_jump},
        "period": [start.isoformat(), end.isoformat()],
        "days": len(run.days_visited),
        "ticks": len(run.tick_moments),
        **obligations,
        "submissions": {"first": counts["submissions"], "resubmitted": counts["resubmissions"],
                        "returns": counts["returns"], "approvals": counts["approvals"],
                        "by_status": dict(sorted(rows.submissions.items()))},
        "requests": sum(1 for off in rows.offsets if off < 0),
        "reminders": sum(1 for off in rows.offsets if off >= 0),
        **escalations,
        "documents": rows.documents,
        "cases": rows.cases,
        "mail": mail["mail"],
        "mail_per_week": mail["mail_per_week"],
        "faults": {"smtp_outage": [d.isoformat() for d in run.faults.get("smtp_outage", ())],
                   "clock_jump": [d.isoformat() for d in run.faults.get("clock_jump", ())],
                   "restarts": [d.isoformat() for d in run.faults.get("restarts", [])],
                   "second_ticks": counts["second_ticks"]},
        "people_errors": len(run.people.errors),
        "townships": _townships(run, rows, by_town),
    }


# ---- the HTML report ------------------------------------------------------------------------------


def _bars(items: list[tuple[str, int]], *, width: int = 560, bar: int = 22, color: str = "#b22222") -> str:
    """A horizontal bar chart as inline SVG (no external assets)."""
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


def write_report(result: SimulationResult, path: Path) -> Path:
    """The HTML report (zh-CN, inline SVG charts, no external assets)."""
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
        profile_labels=PROFILE_LABELS, kind_labels=KIND_LABELS, trigger_labels=TRIGGER_LABELS, ok=result.ok)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
