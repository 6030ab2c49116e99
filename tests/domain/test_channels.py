"""Channel rules: kinds' defaults and users' choices, quiet hours, one-segment SMS texts, robot payloads,
and what the providers' answers mean."""

from __future__ import annotations

import datetime as dt

import pytest

from core.clock import CHINA_TZ
from domain.channels import (
    after_quiet_hours,
    cause_key,
    channel_key,
    mask,
    mask_url,
    personal_channels,
    robot_payload,
    robot_summary,
    robot_verdict,
    sms_text,
    sms_verdict,
    wants_robot,
)


def test_escalations_go_by_sms_and_to_the_group_digests_by_mail_only() -> None:
    assert personal_channels("escalation", None) == {"email", "sms"} and wants_robot("escalation")
    assert personal_channels("reminder", None) == {"email"} and wants_robot("reminder")
    assert personal_channels("daily_digest", None) == {"email"} and not wants_robot("daily_digest")
    assert personal_channels("reminder", ["sms", "wecom"]) == {"sms"}  # a user's choice; robots are not theirs


@pytest.mark.parametrize(("local", "due"), [
    (dt.datetime(2027, 3, 20, 23, 10), dt.datetime(2027, 3, 21, 7, 0)),
    (dt.datetime(2027, 3, 21, 5, 0), dt.datetime(2027, 3, 21, 7, 0)),
    (dt.datetime(2027, 3, 20, 7, 0), None),
    (dt.datetime(2027, 3, 20, 21, 59), None),
])
def test_an_sms_in_quiet_hours_waits_for_their_end(local: dt.datetime, due: dt.datetime | None) -> None:
    result = after_quiet_hours(local.replace(tzinfo=CHINA_TZ), dt.time(22, 0), dt.time(7, 0))
    assert result == (due.replace(tzinfo=CHINA_TZ) if due else None)


def test_an_sms_is_one_segment_with_the_link_shortened_to_the_item() -> None:
    subject = "【逾期提醒】青石镇·青石村·2027年第一季度·软弱涣散村党组织整顿工作季度报告及佐证材料（已逾期12天）"
    text = sms_text("清溪督办", subject, "http://127.0.0.1:8000/escalations/12")
    assert len(text) == 70 and text.startswith("【清溪督办】【逾期提醒】") and text.endswith("… 见/escalations/12")
    assert sms_text("清溪督办", "短标题", "http://x/todos") == "【清溪督办】短标题 见/todos"


def test_a_robot_message_names_nobody_and_links_the_item() -> None:
    summary = robot_summary("张三同志，您好：\n\n“季度报告”已逾期。\n\n——\n清溪县委组织部\n本邮件由督办系统自动发送")
    assert summary == "“季度报告”已逾期。"
    payload = robot_payload("dingtalk", "标题", "**标题**")
    assert payload == {"msgtype": "markdown", "markdown": {"title": "标题", "text": "**标题**"}}
    assert robot_payload("feishu", "标题", "**标题**")["content"]["text"] == "标题"


@pytest.mark.parametrize(("channel", "status", "body", "outcome"), [
    ("wecom", 200, {"errcode": 0, "errmsg": "ok"}, "sent"),
    ("wecom", 200, {"errcode": 45009, "errmsg": "api freq out of limit"}, "retried"),
    ("wecom", 200, {"errcode": 93000, "errmsg": "invalid webhook url"}, "dead"),
    ("dingtalk", 200, {"errcode": 130101, "errmsg": "send too fast"}, "retried"),
    ("dingtalk", 200, {"errcode": 310000, "errmsg": "sign not match"}, "dead"),
    ("feishu", 200, {"code": 19021, "msg": "sign match fail"}, "dead"),
    ("feishu", 200, {"code": 9499, "msg": "too many request"}, "retried"),
    ("feishu", 502, None, "retried"),
    ("wecom", 404, None, "dead"),
    ("dingtalk", 200, {"errcode": 88888, "errmsg": "unknown"}, "retried"),
])
def test_what_a_robot_answer_means(channel: str, status: int, body: dict[str, object] | None, outcome: str) -> None:
    assert robot_verdict(channel, status, body).outcome == outcome


@pytest.mark.parametrize(("status", "outcome"), [(200, "sent"), (429, "retried"), (503, "retried"), (401, "retried"),
                                                 (400, "dead"), (422, "dead")])
def test_what_an_sms_gateway_answer_means(status: int, outcome: str) -> None:
    assert sms_verdict(status, "").outcome == outcome


def test_keys_and_masks() -> None:
    assert cause_key("remind:7:3:12", 12) == "remind:7:3" and cause_key("remind:7:3:12", 13) == "remind:7:3:12"
    assert channel_key("k", "email") == "k" and channel_key("k", "sms") == "k#sms" and channel_key("k", "wecom", 3) == "k#wecom:3"
    assert mask("SEC0123456789abcdef") == "••••cdef" and mask("short") == "••••"
    assert mask_url("https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef") == \
        "https://oapi.dingtalk.com/robot/send?access_token=••••cdef"
    assert mask_url("https://open.feishu.cn/open-apis/bot/v2/hook/0123456789abcdef") == \
        "https://open.feishu.cn/open-apis/bot/v2/hook/••••cdef"
