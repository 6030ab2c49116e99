"""The batch outbox writer (``enqueue_mails``) and the shared rendering behind it, on every backend.

A batch writes exactly the rows ``enqueue_mail`` writes one by one, keeps one row per key (across
batches, within a batch, against mails added through the ORM and against a concurrent writer that
committed the same key after the lookup), and renders a context shared by several recipients once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from models import OutboxMessage
from notifications import outbox, render
from notifications.outbox import MailRequest, enqueue_mail, enqueue_mails, message_id_for
from notifications.render import MAIL_TEMPLATES, PRINTED_ONLY, render_batch, render_mail, render_mails
from tests.support.mail import CONTEXTS, NOW, mail_user

NAMES = ["张三", "<李&四>", '王 "五"', "  赵\n六  "]


def _rows(engine: Engine) -> dict[str, OutboxMessage]:
    with Session(engine) as s:
        return {r.key: r for r in s.exec(select(OutboxMessage))}


def _count(engine: Engine) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(OutboxMessage)).one()


def _without_name(name: str) -> dict[str, Any]:
    return {k: v for k, v in CONTEXTS[name].items() if k != "recipient_name"}


@pytest.mark.parametrize("name", MAIL_TEMPLATES)
def test_one_rendering_for_several_recipients_equals_rendering_each(name: str) -> None:
    shared = render_mails(name, _without_name(name), NAMES)
    assert shared == [render_mail(name, {**_without_name(name), "recipient_name": n}) for n in NAMES]
    assert render_mails(name, _without_name(name), []) == []


def test_a_shared_context_is_rendered_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = render._render

    def counting(name: str, *args: Any) -> Any:
        calls.append(name)
        return real(name, *args)

    monkeypatch.setattr(render, "_render", counting)
    render_mails("reminder", _without_name("reminder"), NAMES)
    assert calls == ["reminder"]


def _variants(name: str) -> list[dict[str, Any]]:
    """Contexts of ``name`` varied in every printed-only value: equal and unequal, HTML-special, blank, spaced."""
    base = CONTEXTS[name]
    printed = ("recipient_name", *PRINTED_ONLY.get(name, ()))
    values = ["青石镇", "青石村", "<李&四>", '王 "五"', "", "  赵\n六  ", "a  b", "青石镇"]
    out = [dict(base)]
    for i, value in enumerate(values):
        for j, key in enumerate(printed):
            out.append(base | {key: value})
            out.append(base | {k: values[(i + j + n) % len(values)] for n, k in enumerate(printed)})
        out.append(base | dict.fromkeys(printed, value))  # all equal: township == subject_unit in a reminder
    if "days_left" in base:  # the branches on what is not substituted still follow each context
        out += [base | {"days_left": d, "township": t} for d in (-2, 0, 5) for t in ("青石镇", "白水镇")]
    return out


@pytest.mark.parametrize("name", MAIL_TEMPLATES)
def test_a_batch_rendering_equals_rendering_each(name: str) -> None:
    contexts = _variants(name)
    assert render_batch(name, contexts) == [render_mail(name, c) for c in contexts]
    assert render_batch(name, []) == []


def test_reminders_differing_only_in_printed_values_share_one_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = render._render

    def counting(name: str, *args: Any) -> Any:
        calls.append(name)
        return real(name, *args)

    monkeypatch.setattr(render, "_render", counting)
    base = CONTEXTS["reminder"]
    towns = [base | {"title": f"报告{i}", "township": f"{i}镇", "subject_unit": f"{i}村", "recipient_name": f"联络员{i}"}
             for i in range(20)]
    same = [base | {"title": f"报告{i}", "township": f"{i}镇", "subject_unit": f"{i}镇"} for i in range(5)]
    later = [base | {"days_left": 0, "title": f"报告{i}"} for i in range(5)]
    assert render_batch("reminder", towns + same + later) == [render_mail("reminder", c) for c in towns + same + later]
    assert calls.count("reminder") == 3 + 30  # one per group, then the 30 direct renderings compared against


def test_a_batch_writes_the_rows_enqueue_mail_writes(engine: Engine) -> None:
    users = [mail_user(engine, f"u{i}", email=f"u{i}@example.cn") for i in range(3)]
    shared = _without_name("reminder")
    with Session(engine) as s:
        for user in users:
            enqueue_mail(s, key=f"one:{user.id}", to=user, template="reminder", context=shared, now=NOW)
        ids = enqueue_mails(s, [MailRequest(f"batch:{u.id}", u, "reminder", shared) for u in users]
                            + [MailRequest("own:0", users[0], "stage_passed", dict(CONTEXTS["stage_passed"]))],
                            now=NOW)
        s.commit()
    rows = _rows(engine)
    assert set(ids) == {f"batch:{u.id}" for u in users} | {"own:0"}
    assert {ids[k] for k in ids} == {rows[k].id for k in ids}
    for user in users:
        one, batch = rows[f"one:{user.id}"], rows[f"batch:{user.id}"]
        assert (batch.subject, batch.body_text, batch.body_html, batch.to_addr, batch.to_user_id) == (
            one.subject, one.body_text, one.body_html, one.to_addr, one.to_user_id)
        assert (batch.status, batch.attempts, batch.created_at, batch.message_id) == (
            "pending", 0, NOW, message_id_for(f"batch:{user.id}"))
    # a recipient_name in the context wins over the user's display name, as with enqueue_mail
    assert "李四" in rows["own:0"].body_text and "u0同志" not in rows["own:0"].body_text


def test_a_batch_keeps_one_row_per_key(engine: Engine) -> None:
    user = mail_user(engine, "wang", email="wang@example.cn")
    nobody = mail_user(engine, "nobody", email=None)
    gone = mail_user(engine, "gone", email="gone@example.cn", active=False)
    context = _without_name("reminder")
    with Session(engine) as s:
        earlier = enqueue_mail(s, key="k:orm", to=user, template="reminder", context=context, now=NOW)
        assert earlier is not None and earlier.id is None  # added, not flushed: the batch must still see it
        first = enqueue_mails(s, [MailRequest("k:1", user, "reminder", context), MailRequest("k:1", user, "reminder", {}),
                                  MailRequest("k:orm", user, "reminder", context),
                                  MailRequest("k:none", nobody, "reminder", context),
                                  MailRequest("k:gone", gone, "reminder", context)], now=NOW)
        assert earlier.id is not None and first["k:orm"] == earlier.id
        assert first["k:none"] is None and first["k:gone"] is None
        s.commit()
    assert _count(engine) == 2
    with Session(engine) as s:  # a later transaction: the same ids back, nothing written
        again = enqueue_mails(s, [MailRequest("k:1", user, "reminder", context),
                                  MailRequest("k:2", user, "reminder", context)], now=NOW + dt.timedelta(days=1))
        s.commit()
    assert again["k:1"] == first["k:1"] and again["k:2"] not in (None, first["k:1"])
    assert _count(engine) == 3 and _rows(engine)["k:1"].created_at == NOW


def test_a_key_committed_by_a_concurrent_writer_after_the_lookup_is_skipped(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = mail_user(engine, "li", email="li@example.cn")
    context = _without_name("reminder")
    with Session(engine) as s:  # the other writer, committed
        other = enqueue_mails(s, [MailRequest("race:1", user, "reminder", context)], now=NOW)
        s.commit()
    real = outbox._ids_of
    lookups: list[list[str]] = []

    def stale_first_lookup(session: Session, keys: list[str]) -> dict[str, int]:
        lookups.append(list(keys))
        return {} if len(lookups) == 1 else real(session, keys)  # the first lookup ran before that commit

    monkeypatch.setattr(outbox, "_ids_of", stale_first_lookup)
    with Session(engine) as s:
        ours = enqueue_mails(s, [MailRequest("race:1", user, "reminder", context),
                                 MailRequest("race:2", user, "reminder", context)], now=NOW + dt.timedelta(hours=1))
        s.commit()  # no unique-key error: the conflicting row was skipped, the transaction goes on
    assert lookups == [["race:1", "race:2"], ["race:1"]]
    assert ours["race:1"] == other["race:1"] and ours["race:2"] is not None
    rows = _rows(engine)
    assert len(rows) == 2 and rows["race:1"].created_at == NOW


def test_a_batch_refuses_bad_keys_and_naive_times(engine: Engine) -> None:
    user = mail_user(engine, "zhou", email="zhou@example.cn")
    with Session(engine) as s:
        with pytest.raises(ValueError, match="aware"):
            enqueue_mails(s, [MailRequest("k", user, "reminder", {})], now=dt.datetime(2027, 3, 20))
        with pytest.raises(ValueError, match="key"):
            enqueue_mails(s, [MailRequest("x" * 256, user, "reminder", {})], now=NOW)
        assert enqueue_mails(s, [], now=NOW) == {}
    assert _count(engine) == 0
