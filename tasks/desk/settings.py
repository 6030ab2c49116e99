"""The desk's settings (``DUBAN_DESK_*``) as the pure rules take them, and the names the desk shares."""

from __future__ import annotations

from core.settings import get_settings
from domain.desk import DeskSettings, ScoreWeights

ITEMS = "supervision_desk"  # the container definition of the 办结报告 and feedback deadlines
SIGNING = "supervision_desk_signing"  # the container definition of the sign-for deadlines
ACK_RULE = "acknowledge"
FEEDBACK_RULE = "progress_feedback"
CLOSING_RULES = {"township_county": "closing_report", "county": "closing_report_county"}
NUMBER_PREFIX = "督交"  # 督交〔2027〕3号: the number of an assigned item


def desk_settings() -> DeskSettings:
    s = get_settings()
    return DeskSettings(
        ack_workdays=s.desk_ack_workdays, yellow_workdays=s.desk_yellow_workdays, max_extensions=s.desk_max_extensions,
        decision_workdays=s.desk_decision_workdays,
        weights=ScoreWeights(base=s.desk_score_base, on_time=s.desk_score_on_time, per_overdue=s.desk_score_per_overdue,
                             per_extension=s.desk_score_per_extension, per_level=s.desk_score_per_level,
                             per_case=s.desk_score_per_case))


def item_number(year: int, seq: int) -> str:
    return f"{NUMBER_PREFIX}〔{year}〕{seq}号"
