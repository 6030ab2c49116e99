"""Mail templates and the outbox writer: rendering, escaping, strictness, one row per key."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from jinja2 import UndefinedError
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from core.settings import get_settings
from models import OutboxMessage
from notifications.outbox import absolute_url, base_url, enqueue_mail, message_id_for
from notifications.render import MAIL_TEMPLATES, render_mail, zh_date
from tests.support.mail import CONTEXTS, DAY, LINK, NOW, ZH_DAY, mail_user


def _title(name: str) -> str:
    context = CONTEXTS[name]
    if "items" in context:
        return str(context["items"][0]["title"])
    return str(context.get("title") or context["campaign_title"])


@pytest.fixture
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


def test_every_template_has_a_context() -> None:
    assert set(CONTEXTS) == set(MAIL_TEMPLATES)


@pytest.mark.parametrize("name", MAIL_TEMPLATES)
def test_each_template_renders(name: str) -> None:
    mail = render_mail(name, CONTEXTS[name])
    assert mail.subject.strip() and "\n" not in mail.subject
    title = _title(name)
    for body in (mail.text, mail.html):
        assert ZH_DAY in body
        assert title in body
        assert CONTEXTS[name]["recipient_name"] in body
        assert LINK in body
        assert get_settings().organisation_name in body
    assert mail.html.lstrip().startswith("<!DOCTYPE html>") and "</html>" in mail.html
    assert "<" not in mail.text.replace(LINK, "")  # plain text carries no markup


@pytest.mark.parametrize("name", MAIL_TEMPLATES)
def test_templates_render_with_optional_values_absent(name: str) -> None:
    optional = {"due_date", "comment", "next_level_name", "next_stage_name", "next_stage_due"}
    context = {k: (None if k in optional else v) for k, v in CONTEXTS[name].items()}
    mail = render_mail(name, context)
    assert mail.subject and _title(name) in mail.text and "None" not in mail.text + mail.html


def test_approval_at_a_level_and_final_approval_differ() -> None:
    context = CONTEXTS["submission_approved"]
    step = render_mail("submission_approved", context)
    final = render_mail("submission_approved", {**context, "next_level_name": None})
    assert "县委组织部审核" in step.text and "县委组织部审核" in step.html
    assert step.subject != final.subject and "终审" in final.subject
    assert "全部完成" in final.text and "全部完成" in final.html


def test_organisation_name_comes_from_settings(fresh_settings: pytest.MonkeyPatch) -> None:
    fresh_settings.setenv("DUBAN_ORGANISATION_NAME", "测试县委组织部")
    get_settings.cache_clear()
    mail = render_mail("stage_passed", CONTEXTS["stage_passed"])
    assert "测试县委组织部" in mail.text and "测试县委组织部" in mail.html


@pytest.mark.parametrize("name", ["submission_returned", "submission_rejected", "submission_approved"])
def test_html_escapes_the_comment_and_text_keeps_it(name: str) -> None:
    comment = '<script>alert("x")</script>\n第二行 & 第三行'
    mail = render_mail(name, {**CONTEXTS[name], "comment": comment, "title": "A<b>B"})
    assert comment in mail.text and "A<b>B" in mail.text and "A<b>B" in mail.subject
    assert "<script>" not in mail.html and "<b>" not in mail.html
    assert "&lt;script&gt;" in mail.html and "A&lt;b&gt;B" in mail.html and "第二行 &amp; 第三行" in mail.html


def test_a_link_is_escaped_in_html_only() -> None:
    link = "http://duban.test/s?a=1&b=2"
    mail = render_mail("submission_submitted", {**CONTEXTS["submission_submitted"], "link": link})
    assert link in mail.text
    assert 'href="http://duban.test/s?a=1&amp;b=2"' in mail.html


def _drop_cases() -> list[tuple[str, str]]:
    return [(name, key) for name in MAIL_TEMPLATES for key in CONTEXTS[name]]


@pytest.mark.parametrize(("name", "missing"), _drop_cases())
def test_a_missing_variable_raises(name: str, missing: str) -> None:
    context = {k: v for k, v in CONTEXTS[name].items() if k != missing}
    with pytest.raises(UndefinedError):
        render_mail(name, context)


def test_an_unknown_template_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown mail template"):
        render_mail("no_such_mail", {})


def test_zh_date() -> None:
    assert zh_date(DAY) == ZH_DAY
    assert zh_date(dt.date(2027, 11, 5)) == "2027年11月5日"
    # An aware datetime is read in China time: 20:00 UTC on the 19th is the 20th in Beijing.
    assert zh_date(dt.datetime(2027, 3, 19, 20, 0, tzinfo=dt.UTC)) == ZH_DAY
    assert zh_date(dt.datetime(2027, 3, 20, 23, 0)) == ZH_DAY
    with pytest.raises(TypeError):
        zh_date("2027-03-20")  # type: ignore[arg-type]


def test_base_url_from_settings(fresh_settings: pytest.MonkeyPatch) -> None:
    fresh_settings.setenv("DUBAN_BASE_URL", "https://duban.example.cn/")
    get_settings.cache_clear()
    assert base_url() == "https://duban.example.cn"
    assert absolute_url("/submissions/7") == "https://duban.example.cn/submissions/7"
    fresh_settings.delenv("DUBAN_BASE_URL")
    fresh_settings.setenv("DUBAN_HOST", "10.0.0.5")
    fresh_settings.setenv("DUBAN_PORT", "8080")
    get_settings.cache_clear()
    assert base_url() == "http://10.0.0.5:8080"


def test_message_id_is_stable_and_well_formed() -> None:
    first = message_id_for("submission_returned:7:r2:user:3")
    assert first == message_id_for("submission_returned:7:r2:user:3")
    assert first != message_id_for("submission_returned:7:r3:user:3")
    assert re.fullmatch(r"<[0-9a-f]{32}@duban\.local>", first)


# --- the outbox writer, on every backend -------------------------------------------------------------


def _count(engine: Engine) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(OutboxMessage)).one()


def test_enqueue_writes_one_pending_message(engine: Engine) -> None:
    user = mail_user(engine, "wang", email="wang@example.cn")
    key = f"submission_returned:7:r2:user:{user.id}"
    context = {k: v for k, v in CONTEXTS["submission_returned"].items() if k != "recipient_name"}
    with Session(engine, expire_on_commit=False) as s:
        message = enqueue_mail(s, key=key, to=user, template="submission_returned", context=context, now=NOW)
        assert message is not None
        again = enqueue_mail(s, key=key, to=user, template="submission_returned", context=context, now=NOW)
        assert again is message
        s.commit()
    assert _count(engine) == 1
    with Session(engine) as s:
        row = s.exec(select(OutboxMessage)).one()
        assert (row.key, row.status, row.attempts, row.sent_at) == (key, "pending", 0, None)
        assert row.message_id == message_id_for(key)
        assert (row.to_addr, row.to_user_id) == ("wang@example.cn", user.id)
        assert row.created_at == NOW and row.created_at.tzinfo is not None
        assert row.subject and "wang同志" in row.body_text and "wang同志" in row.body_html
        assert ZH_DAY in row.body_text and ZH_DAY in row.body_html
    # A later transaction with the same key finds the row and adds nothing.
    with Session(engine) as s:
        existing = enqueue_mail(s, key=key, to=user, template="submission_returned", context=context, now=NOW)
        assert existing is not None and existing.id == row.id
        s.commit()
    assert _count(engine) == 1


def test_enqueue_does_not_commit(engine: Engine) -> None:
    user = mail_user(engine, "zhao", email="zhao@example.cn")
    with Session(engine) as s:
        enqueue_mail(s, key="k-rollback", to=user, template="stage_passed", context=CONTEXTS["stage_passed"], now=NOW)
        s.rollback()
    assert _count(engine) == 0


def test_different_keys_make_different_messages(engine: Engine) -> None:
    user = mail_user(engine, "sun", email="sun@example.cn")
    with Session(engine) as s:
        for key in ("stage_passed:1:a", "stage_passed:1:b"):
            enqueue_mail(s, key=key, to=user, template="stage_passed", context=CONTEXTS["stage_passed"], now=NOW)
        s.commit()
    assert _count(engine) == 2


@pytest.mark.parametrize(("email", "active"), [(None, True), ("", True), ("   ", True), ("li@example.cn", False)])
def test_no_address_or_inactive_user_gets_nothing(engine: Engine, email: str | None, active: bool) -> None:
    user = mail_user(engine, "li", email=email, active=active)
    with Session(engine) as s:
        result = enqueue_mail(
            s, key="stage_passed:1:li", to=user, template="stage_passed", context=CONTEXTS["stage_passed"], now=NOW
        )
        assert result is None
        s.commit()
    assert _count(engine) == 0


def test_a_bad_context_writes_nothing(engine: Engine) -> None:
    user = mail_user(engine, "qian", email="qian@example.cn")
    with Session(engine) as s:
        with pytest.raises(UndefinedError):
            enqueue_mail(s, key="k-bad", to=user, template="stage_passed", context={"township": "青石镇"}, now=NOW)
        s.commit()
    assert _count(engine) == 0


def test_a_naive_now_is_refused(engine: Engine) -> None:
    user = mail_user(engine, "zhou", email="zhou@example.cn")
    with Session(engine) as s, pytest.raises(ValueError, match="aware"):
        enqueue_mail(
            s, key="k", to=user, template="stage_passed", context=CONTEXTS["stage_passed"], now=dt.datetime(2027, 3, 20)
        )


def test_the_unique_key_is_the_final_guard(engine: Engine) -> None:
    def row() -> OutboxMessage:
        return OutboxMessage(
            key="dup", message_id=message_id_for("dup"), to_addr="a@example.cn", subject="s", body_text="t",
            body_html="h", created_at=NOW,
        )

    with Session(engine) as s:
        s.add(row())
        s.commit()
    with Session(engine) as s:
        s.add(row())
        with pytest.raises(IntegrityError):
            s.commit()
    assert _count(engine) == 1


def test_a_transaction_reads_the_recipient_directory_once(engine: Engine) -> None:
    user = mail_user(engine, "wu", email="wu@example.cn")
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        reads.extend(table for table in ("FROM user_channels", "FROM channel_robots") if table in statement)

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        with Session(engine) as s:
            for key in ("stage_passed:1:wu", "stage_passed:2:wu"):  # a kind that goes by mail only: no robots read
                enqueue_mail(s, key=key, to=user, template="stage_passed", context=CONTEXTS["stage_passed"], now=NOW)
            s.commit()
        assert reads == ["FROM user_channels"]
        with Session(engine) as s:  # the next transaction reads again
            enqueue_mail(s, key="stage_passed:3:wu", to=user, template="stage_passed", context=CONTEXTS["stage_passed"],
                         now=NOW)
            s.commit()
        assert reads == ["FROM user_channels"] * 2
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    assert _count(engine) == 3
