"""One vocabulary: every status duban stores, with its zh-CN label, and one date formatter.

Pages, Excel ledgers, mails and official documents take their Chinese words from here and nowhere else,
so that the same row reads the same on a page and in a ledger. A status is a ``StrEnum`` whose members
compare equal to the strings stored in the database (``SubmissionStatus.APPROVED == "approved"``)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from core.clock import CHINA_TZ


class LabelledStatus(StrEnum):
    """A status value with its zh-CN label: ``APPROVED = "approved", "已通过"``."""

    label: str

    def __new__(cls, value: str, label: str = "") -> LabelledStatus:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    @classmethod
    def label_of(cls, value: str | None) -> str:
        """The label of a stored value; an unknown value shows as itself, nothing as empty."""
        if not value:
            return ""
        try:
            return cls(value).label
        except ValueError:
            return value

    @classmethod
    def labels(cls) -> dict[str, str]:
        return {member.value: member.label for member in cls}


class CampaignStatus(LabelledStatus):
    ACTIVE = "active", "进行中"
    COMPLETED = "completed", "已完成"
    CANCELLED = "cancelled", "已撤销"


class StageStatus(LabelledStatus):
    PENDING = "pending", "未开始"
    OPEN = "open", "进行中"
    IN_REVIEW = "in_review", "审核中"
    IN_NOTICE = "in_notice", "公示中"
    PASSED = "passed", "已通过"
    CLOSED = "closed", "已结束"
    OVERDUE = "overdue", "已逾期"
    VETOED = "vetoed", "已否决"
    WAIVED = "waived", "不适用"


class ObligationStatus(LabelledStatus):
    SCHEDULED = "scheduled", "未开放"
    OPEN = "open", "进行中"
    SUBMITTED = "submitted", "已提交"
    MET = "met", "已完成"
    LATE = "late", "逾期完成"
    MISSED = "missed", "未完成"
    WAIVED = "waived", "不适用"


class LatePolicy(LabelledStatus):
    """What a launch does with the deadlines that passed before the campaign existed."""

    WAIVE = "waive", "免于报送（标记为不适用）"
    CATCH_UP = "catch_up", "限期补报"


class SubmissionStatus(LabelledStatus):
    DRAFT = "draft", "草稿"
    IN_REVIEW = "in_review", "审核中"
    RETURNED = "returned", "已退回"
    APPROVED = "approved", "已通过"
    REJECTED = "rejected", "不予通过"
    WITHDRAWN = "withdrawn", "已撤回"


class EscalationStatus(LabelledStatus):
    OPEN = "open", "督办中"
    ESCALATED = "escalated", "已升级"
    RESOLVED = "resolved", "已办结"
    CONFIRMED = "confirmed", "已立案问责"
    DISMISSED = "dismissed", "核实后撤销"


class CaseStatus(LabelledStatus):
    OPEN = "open", "待决定"
    DECIDED = "decided", "已决定"
    CLOSED = "closed", "已结案"


class RectificationStatus(LabelledStatus):
    RECTIFYING = "rectifying", "整顿中"
    APPLIED = "applied", "已申请验收"
    CONSOLIDATING = "consolidating", "已验收（巩固提升）"
    CLOSED = "closed", "已销号"
    REMOVED = "removed", "已移出名单"


class TargetStatus(LabelledStatus):
    """How a target (指标) stands; computed from the submissions and the org data, never stored."""

    MET = "met", "达标"
    NOT_MET = "not_met", "未达标"
    NO_DATA = "no_data", "无数据"
    UNSET = "unset", "目标值待设定"


class CheckStatus(LabelledStatus):
    """Where one check of a gate stands for the decision at hand (``domain.gate_checks``)."""

    PASSED = "passed", "符合"
    FAILED = "failed", "不符合"
    NEEDS_JUDGEMENT = "needs_judgement", "待审核人判断"
    PENDING = "pending", "待后续环节核对"


class OutboxStatus(LabelledStatus):
    PENDING = "pending", "待发送"
    SENDING = "sending", "发送中"
    SENT = "sent", "已发送"
    DEAD = "dead", "发送失败"


class Channel(LabelledStatus):
    """Where an outbox row is delivered: a person's mail or phone, or a township's or office's group robot."""

    EMAIL = "email", "邮件"
    SMS = "sms", "短信"
    WECOM = "wecom", "企业微信群机器人"
    DINGTALK = "dingtalk", "钉钉群机器人"
    FEISHU = "feishu", "飞书群机器人"


class StationingPlanStatus(LabelledStatus):
    """A year's stationing plan (选派安排表) through the county's review (values of ``models.PlanStatus``)."""

    DRAFT = "draft", "草稿"
    SUBMITTED = "submitted", "待审核"
    RETURNED = "returned", "已退回修改"
    APPROVED = "approved", "已批准"


class ArrivalStatus(LabelledStatus):
    """Where a stationed cadre stands against the batch's arrival day (003 §三(二): 1月8日前到挂钩联系点)."""

    ON_TIME = "on_time", "按时到位"
    LATE = "late", "迟到"
    AWAITED = "awaited", "待到位"
    MISSING = "missing", "逾期未到位"
    LEFT = "left", "已提前离岗"


class ProgrammeStatus(LabelledStatus):
    """A three-year programme (003: 用3年时间) as of a day: before, in one of its years, or after them — still
    open while a village that failed acceptance keeps its team (直至验收合格)."""

    UPCOMING = "upcoming", "未开始"
    RUNNING = "running", "实施中"
    CARRYING_OVER = "carrying_over", "验收未通过村继续派驻"
    ENDED = "ended", "已结束"
class CadreGrade(LabelledStatus):
    """The grade of a stationed cadre's yearly 工作鉴定 (003 四(五))."""

    EXCELLENT = "excellent", "优秀"
    COMPETENT = "competent", "称职"
    BASICALLY_COMPETENT = "basically_competent", "基本称职"
    INCOMPETENT = "incompetent", "不称职"


class AppraisalStatus(LabelledStatus):
    """A cadre's 工作鉴定: drafted by the township, submitted, approved (审定) by the Organisation Department."""

    DRAFT = "draft", "草稿"
    SUBMITTED = "submitted", "待组织部审定"
    RETURNED = "returned", "已退回"
    APPROVED = "approved", "已审定"


class UnitRating(LabelledStatus):
    """A county unit's yearly rating (年度考核档次), which the dispatch of cadres may downgrade (003 四(五))."""

    EXCELLENT = "excellent", "优秀"
    GOOD = "good", "良好"
    PASS = "pass", "合格"
    FAIL = "fail", "不合格"


class AcceptanceStatus(LabelledStatus):
    """Where a village or township stands in the graded acceptance (分级验收, 003 四(五))."""

    PENDING = "pending", "待验收"
    PASSED = "passed", "验收合格"
    FAILED = "failed", "验收不合格（继续驻村）"


class AcceptanceLevel(LabelledStatus):
    """Who gave an acceptance verdict (县区乡镇验收村、市县区验收乡镇)."""

    TOWNSHIP = "township", "乡镇验收"
    COUNTY = "county", "县验收"
class UnitReportStatus(LabelledStatus):
    """A quarterly written report to the 县委基层办 (003 §四(六)) from a township or a dispatching unit."""

    SUBMITTED = "submitted", "已报送"
    ACCEPTED = "accepted", "已采纳"
    RETURNED = "returned", "已退回"
# ---- the 督办 desk (assigned items, issue 18) ---------------------------------------------------------


class ItemSource(LabelledStatus):
    """Where an assigned item (交办事项) comes from."""

    INSTRUCTION = "instruction", "领导批示"
    MEETING = "meeting", "会议议定"
    INSPECTION = "inspection", "检查发现"
    HIGHER = "higher", "上级交办"


class ItemFeedback(LabelledStatus):
    """How a recipient reports back: one 办结报告, or progress feedback each period until done."""

    ONCE = "once", "一次性办结报告"
    WEEKLY = "weekly", "每周反馈"
    MONTHLY = "monthly", "每月反馈"
    QUARTERLY = "quarterly", "每季度反馈"


class ItemReview(LabelledStatus):
    """The review chain of an item's 办结报告 (a rule of the desk definition)."""

    TOWNSHIP_COUNTY = "township_county", "乡镇党委审核后报县委组织部办结"
    COUNTY = "county", "县委组织部直接审核办结"


class RecipientStatus(LabelledStatus):
    """Where one recipient of an assigned item stands."""

    UNSIGNED = "unsigned", "待签收"
    SIGNED = "signed", "已签收办理中"
    SUBMITTED = "submitted", "办结报告审核中"
    CLOSED = "closed", "已办结销号"
    CLOSED_LATE = "closed_late", "逾期办结"
    OVERDUE = "overdue", "逾期未办结"


class ExtensionStatus(LabelledStatus):
    """An extension request (延期申请): the township's reviewer first, then the office."""

    PENDING_TOWNSHIP = "pending_township", "待乡镇审核"
    PENDING_COUNTY = "pending_county", "待督查室决定"
    APPROVED = "approved", "已批准延期"
    REFUSED = "refused", "不予延期"


class Light(LabelledStatus):
    """The traffic light of an open deadline, computed from the calendar (never stored)."""

    GREEN = "green", "绿灯（正常）"
    YELLOW = "yellow", "黄灯（临期或滞后）"
    RED = "red", "红灯（逾期）"


class UrgeColour(LabelledStatus):
    """The 三色督办单 the office issues by hand."""

    BLUE = "blue", "蓝色督办单（临近期限）"
    YELLOW = "yellow", "黄色督办单（进度滞后或质量不高）"
    RED = "red", "红色督办单（已经逾期）"


class BulletinStatus(LabelledStatus):
    DRAFT = "draft", "草稿"
    PUBLISHED = "published", "已印发"


STATUSES: dict[str, type[LabelledStatus]] = {
    "campaign": CampaignStatus, "stage": StageStatus, "obligation": ObligationStatus,
    "submission": SubmissionStatus, "escalation": EscalationStatus, "case": CaseStatus,
    "rectification": RectificationStatus, "outbox": OutboxStatus, "target": TargetStatus, "check": CheckStatus,
    "stationing_plan": StationingPlanStatus, "arrival": ArrivalStatus, "programme": ProgrammeStatus,
    "appraisal": AppraisalStatus, "acceptance": AcceptanceStatus, "cadre_grade": CadreGrade,
    "unit_rating": UnitRating, "acceptance_level": AcceptanceLevel,
    "unit_report": UnitReportStatus,
    "recipient": RecipientStatus, "extension": ExtensionStatus, "light": Light, "bulletin": BulletinStatus,
    "item_source": ItemSource, "item_feedback": ItemFeedback, "item_review": ItemReview, "urge": UrgeColour,
    "late": LatePolicy, "channel": Channel,
}
"""Every status vocabulary by the kind of row it belongs to (templates name the kind: ``status_label('stage')``)."""


def status_label(value: str | None, kind: str) -> str:
    """The zh-CN label of ``value`` as a status of ``kind`` (a key of ``STATUSES``)."""
    return STATUSES[kind].label_of(value)


def zh_date(value: Any) -> str:
    """``2027年3月20日``. An aware datetime is first taken to China time (deadlines are counted there); a naive
    one is taken as it is. ``None`` or an empty value shows as empty."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(CHINA_TZ)
        value = value.date()
    if not isinstance(value, dt.date):
        raise TypeError(f"zh_date needs a date or datetime, not {type(value).__name__}")
    return f"{value.year}年{value.month}月{value.day}日"


_QUARTERS = {"1": "第一季度", "2": "第二季度", "3": "第三季度", "4": "第四季度"}
_HALVES = {"1": "上半年", "2": "下半年"}


def period_label(period: str | None) -> str:
    """A deadline's period as a county clerk says it: ``2026`` → 2026年度, ``2026Q4`` → 2026年第四季度,
    ``2026H1`` → 2026年上半年, ``2026-03`` → 2026年3月, ``2026-W50`` → 2026年第50周（12月7日—12月11日）, the
    working week Monday to Friday of that ISO week. Anything else shows as it is; nothing as empty."""
    if not period:
        return ""
    text = str(period)
    if text.isdigit() and len(text) == 4:
        return f"{text}年度"
    year, sep, rest = text[:4], text[4:5], text[5:]
    if not year.isdigit():
        return text
    if sep == "Q" and rest in _QUARTERS:
        return f"{year}年{_QUARTERS[rest]}"
    if sep == "H" and rest in _HALVES:
        return f"{year}年{_HALVES[rest]}"
    if sep == "-" and rest.isdigit() and 1 <= int(rest) <= 12:
        return f"{year}年{int(rest)}月"
    if sep == "-" and rest[:1] == "W" and rest[1:].isdigit():
        try:
            monday = dt.date.fromisocalendar(int(year), int(rest[1:]), 1)
        except ValueError:
            return text
        friday = monday + dt.timedelta(days=4)
        return f"{year}年第{int(rest[1:])}周（{monday.month}月{monday.day}日—{friday.month}月{friday.day}日）"
    return text


def place_label(township: str | None, subject: str | None) -> str:
    """Where a deadline lies: the township, and the village after it when the subject is a village
    (``青石镇前何庄村``); the township alone when the township itself owes it."""
    township = township or ""
    if not subject or subject == township:
        return township
    return f"{township}{subject}"


def heading(title: str, township: str | None, subject: str | None, period: str | None) -> str:
    """The one title of a deadline's material on every page, queue row, form, mail and ledger row: where,
    for which period, what — ``青石镇前何庄村 2026年第50周（12月7日—12月11日） 重点联系村整顿工作周报``."""
    return " ".join(part for part in (place_label(township, subject), period_label(period), title) if part)


def zh_datetime(value: Any) -> str:
    """``2027年3月20日 09:30`` in China time: when something happened, for histories. Nothing shows as empty."""
    if value is None or value == "":
        return ""
    if not isinstance(value, dt.datetime):
        return zh_date(value)
    local = value.astimezone(CHINA_TZ) if value.tzinfo is not None else value
    return f"{zh_date(local)} {local.hour:02d}:{local.minute:02d}"


ACTION_LABELS: dict[str, str] = {
    "submission.create": "创建材料", "submission.update": "保存草稿", "submission.submit": "提交审核",
    "submission.approve": "审核通过", "submission.return": "退回修改", "submission.reject": "不予通过",
    "submission.withdraw": "撤回", "submission.veto": "一票否决", "submission.send_back": "系统退回（内容空泛）",
    "stage.passed": "阶段通过", "stage.open": "阶段开始", "stage.closed": "阶段结束", "stage.overdue": "阶段逾期",
    "stage.waived": "阶段不适用", "stage.in_notice": "进入公示", "stage.vetoed": "阶段被否决",
    "obligation.open": "开始报送", "obligation.met": "按时完成", "obligation.late": "逾期完成",
    "obligation.missed": "逾期未报", "obligation.waived": "标记为不适用",
    "escalation.open": "启动督办", "escalation.resolve": "督办办结", "gate.override": "例外批准",
    "case.open": "立案问责", "rectification.add": "列入整顿名单", "org.import": "导入组织机构",
    "user.password_changed": "修改密码", "user.deactivated": "停用账户",
    "interview": "记录约谈", "dismiss": "核实后撤销", "decide": "作出决定", "confirm": "核实确认", "close": "结案",
}
"""What each audit event's action means, as the histories on the pages say it."""


def action_label(action: str | None) -> str:
    """The Chinese label of an audit action (``submission.return`` → 退回修改); an unknown action shows its
    object's label with 变更 rather than a code."""
    if not action:
        return ""
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    kind = action.split(".", 1)[0]
    objects = {"submission": "材料", "stage": "阶段", "obligation": "截止事项", "escalation": "督办", "case": "问责案件",
               "rectification": "整顿记录", "user": "账户", "campaign": "督办任务", "org": "组织机构"}
    return f"{objects[kind]}变更" if kind in objects else "其他操作"


COUNT_LABELS: dict[str, str] = {
    "stages_opened": "开始的阶段", "stages_overdue": "逾期的阶段", "stages_closed": "结束的阶段",
    "obligations_missed": "新逾期事项", "escalations": "新督办", "stages_passed_after_notice": "公示期满通过的阶段",
    "windows_opened": "开始报送的事项", "reminders": "催报提醒", "digests": "每日汇总",
    "sent": "已发送", "retried": "稍后重试", "dead": "发送失败", "skipped": "跳过",
}
"""What the counts of a tick and of a mail delivery count, as ``duban tick`` prints them."""


def counts_line(counts: dict[str, int]) -> str:
    """``新逾期事项 3 个，催报提醒 12 个``: a tick's or a delivery's counts in Chinese, in their order."""
    return "，".join(f"{COUNT_LABELS.get(key, key)} {value} 个" for key, value in counts.items()) or "无"
