"""The 督办 desk's pure rules: traffic lights, feedback dates, extension checks, lateness and the yearly score.

004_7c184efb1f3c43f7.txt §一.3 names the 督促检查通报制度 and 定期通报; everything numeric here (how near a
deadline turns yellow, how many extensions an item allows, the score's weights) is a setting of the desk
(``DeskSettings``), because no seed document gives a number. No I/O, no clock: ``today`` comes in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from domain.calendar import WorkCalendar, last_day_of_month
from domain.vocabulary import ItemFeedback, Light, ObligationStatus

OPEN_STATUSES = (ObligationStatus.SCHEDULED, ObligationStatus.OPEN, ObligationStatus.SUBMITTED, ObligationStatus.MISSED)
DONE_STATUSES = (ObligationStatus.MET, ObligationStatus.LATE)


@dataclass(frozen=True)
class ScoreWeights:
    """The yearly score of a township's supervision work (督办工作评分): a base, plus points for the on-time rate,
    minus points per overdue item, extension, escalation level reached and case. The product's choice; the
    county sets them (``DUBAN_DESK_SCORE_*``)."""

    base: float = 60.0
    on_time: float = 40.0  # times the on-time rate (0..1)
    per_overdue: float = 5.0
    per_extension: float = 1.0
    per_level: float = 2.0
    per_case: float = 10.0

    def rule(self) -> str:
        """The rule in Chinese, shown beside the score."""
        return (f"得分 = {self.base:g} + {self.on_time:g} × 按期办结率 − {self.per_overdue:g} × 逾期事项数 − "
                f"{self.per_extension:g} × 延期次数 − {self.per_level:g} × 督办升级层级数 − {self.per_case:g} × 问责案件数"
                "（最低0分，最高100分）")


@dataclass(frozen=True)
class DeskSettings:
    """The desk's settings, where the documents are silent."""

    ack_workdays: int = 1  # 签收: within one working day of assignment
    yellow_workdays: int = 3  # a deadline this near turns the light yellow
    max_extensions: int = 1  # extensions an item allows each recipient
    decision_workdays: int = 3  # the office decides an extension request within N working days
    weights: ScoreWeights = field(default_factory=ScoreWeights)


def light(status: str, due_on: dt.date, today: dt.date, calendar: WorkCalendar, *, yellow_workdays: int,
          feedback_behind: bool = False) -> Light | None:
    """The colour of a deadline: red when overdue (past its date and not done), yellow within ``yellow_workdays``
    working days of it or with periodic feedback behind, green otherwise; None once done (met, late, waived)."""
    if status not in OPEN_STATUSES:
        return None
    if status == ObligationStatus.SUBMITTED:  # the work is in: the reviewers hold it, not the township
        return Light.GREEN
    if due_on < today:
        return Light.RED
    if feedback_behind or calendar.workdays_between(today, due_on) <= yellow_workdays:
        return Light.YELLOW
    return Light.GREEN


def feedback_dates(feedback: ItemFeedback, start: dt.date, due_on: dt.date) -> list[dt.date]:
    """The days periodic feedback is due between ``start`` (exclusive) and the item's deadline (exclusive):
    each Friday, each month's last day, or each quarter's last day. A one-off 办结报告 has none."""
    if feedback == ItemFeedback.ONCE:
        return []
    out: list[dt.date] = []
    day = start
    while True:
        day = _next_period_end(feedback, day)
        if day >= due_on:
            return out
        out.append(day)


def _next_period_end(feedback: ItemFeedback, after: dt.date) -> dt.date:
    if feedback == ItemFeedback.WEEKLY:
        return after + dt.timedelta(days=(4 - after.weekday()) % 7 or 7)
    step = 1 if feedback == ItemFeedback.MONTHLY else 3
    month = after.month if feedback == ItemFeedback.MONTHLY else ((after.month - 1) // 3) * 3 + 3
    end = dt.date(after.year, month, last_day_of_month(after.year, month))
    if end > after:
        return end
    month += step
    year = after.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    return dt.date(year, month, last_day_of_month(year, month))


def extension_problem(*, today: dt.date, due_on: dt.date, proposed_on: dt.date, granted: int, allowed: int,
                      pending: bool, done: bool) -> str | None:
    """Why an extension request (延期申请) cannot be made, in Chinese; None when it may."""
    if done:
        return "该事项已办结，无需延期"
    if due_on < today:
        return f"办理期限{due_on.isoformat()}已过，不能再申请延期；请尽快办结报送"
    if pending:
        return "已有一份延期申请正在审核，请等待决定"
    if granted >= allowed:
        return f"每个交办事项最多可延期{allowed}次，已用完"
    if proposed_on <= due_on:
        return f"申请延期至的日期须晚于现有期限{due_on.isoformat()}"
    return None


def days_late(due_on: dt.date, done_on: dt.date | None) -> int:
    """How many days after its deadline an item was closed (0 when on time or still open)."""
    return max(0, (done_on - due_on).days) if done_on else 0


@dataclass(frozen=True)
class TownshipRecord:
    """One township's supervision work in a period, as the bulletin and the score count it."""

    assigned: int = 0
    on_time: int = 0
    late: int = 0
    open: int = 0
    overdue: int = 0
    extensions: int = 0
    levels: int = 0  # escalation levels reached (sum over steps)
    cases: int = 0

    @property
    def on_time_rate(self) -> float | None:
        done = self.on_time + self.late + self.overdue
        return self.on_time / done if done else None


def score(record: TownshipRecord, weights: ScoreWeights) -> float:
    """The township's score under ``weights`` (0..100); a township with nothing due yet scores the full rate."""
    rate = record.on_time_rate
    value = (weights.base + weights.on_time * (1.0 if rate is None else rate) - weights.per_overdue * record.overdue
             - weights.per_extension * record.extensions - weights.per_level * record.levels
             - weights.per_case * record.cases)
    return round(min(100.0, max(0.0, value)), 1)


def ranked(records: Iterable[tuple[str, TownshipRecord]], weights: ScoreWeights) -> list[tuple[str, float]]:
    """Townships by score, best first (ties by name)."""
    return sorted(((name, score(r, weights)) for name, r in records), key=lambda x: (-x[1], x[0]))


def month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, month, 1), dt.date(year, month, last_day_of_month(year, month))


def best_and_worst(scores: Sequence[tuple[str, float]], n: int = 1) -> tuple[list[str], list[str]]:
    """The names at the top and the bottom of a ranking (a township named once only)."""
    if not scores:
        return [], []
    best = [name for name, _ in scores[:n]]
    worst = [name for name, _ in scores[::-1][:n] if name not in best]
    return best, worst
