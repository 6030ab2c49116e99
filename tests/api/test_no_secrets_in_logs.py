"""No password, token, session cookie, CSRF token or SMTP password in the logs, the output, the audit trail
or the outbox.

Every log record of the process is captured at DEBUG (the root logger and the named loggers of duban,
uvicorn, SQLAlchemy, aiosmtplib, Prefect and httpx), with stdout and stderr, while users sign in right and
wrong through the API and the web form, an account is created with ``duban users add``, tokens are issued
and used, a session cookie and its CSRF token are used, and mail is delivered over SMTP with credentials
(accepted, then refused by the server). Then every secret is looked for in all of it, and in every row of
the database except the columns that must hold them (the session's CSRF token, which is compared on each
request; password and token hashes are hashes, so the clear values cannot be found there anyway).
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy.engine import Engine
from sqlmodel import select
from typer.testing import CliRunner

from cli.main import app as cli
from core.clock import FakeClock
from core.db import session_scope
from core.settings import Settings, get_settings
from models import User
from notifications.delivery import deliver_pending
from notifications.outbox import enqueue_mail
from tasks.accounts import DEMO_PASSWORD
from tests.support import smtp
from tests.support.databases import db_snapshot
from tests.support.mail import CONTEXTS
from tests.support.web import web_sign_in

WRONG_PASSWORD = "Wr0ng-Passw0rd-7xq"
CLI_PASSWORD = "Cl1-Created-Pw-9zk"
SMTP_USER = "duban-mailer"
SMTP_PASSWORD = "Smtp-S3cret-4mv"
DB_PASSWORD = "Db-S3cret-8hq"
LOGGERS = ("", "duban", "api", "tasks", "notifications", "flows", "cli", "uvicorn", "uvicorn.error", "uvicorn.access",
           "sqlalchemy", "sqlalchemy.engine", "sqlalchemy.pool", "aiosmtplib", "prefect", "httpx", "httpcore", "argon2")
# The test's own SMTP server (aiosmtpd) logs the conversation it receives, AUTH included: it stands for
# the mail provider, whose logs are not ours.
FOREIGN = ("mail.log",)


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(FOREIGN):
            return
        text = f"{record.name} {record.levelname} {record.getMessage()}"
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


@pytest.fixture
def logs() -> Iterator[Capture]:
    """Every log record of the process, at DEBUG, including loggers that do not propagate."""
    handler = Capture()
    saved = []
    for name in LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level))
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger, level in saved:
            logger.removeHandler(handler)
            logger.setLevel(level)



class Sink:
    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook
        self.received += 1
        return "250 OK"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (SMTP_USER.encode(), SMTP_PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sink]:
    """A local SMTP server that requires AUTH; duban's settings point at it with the right credentials."""
    with smtp.smtp_server(Sink(), authenticator=_authenticator, auth_require_tls=False, auth_required=True) as server:
        for name, value in (("DUBAN_SMTP_HOST", smtp.HOST), ("DUBAN_SMTP_PORT", str(server.port)),
                            ("DUBAN_SMTP_USERNAME", SMTP_USER), ("DUBAN_SMTP_PASSWORD", SMTP_PASSWORD)):
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        try:
            yield server.handler
        finally:
            get_settings.cache_clear()


def _variants(secret: str) -> list[str]:
    """A secret as it could leak: as is, and base64-encoded (as SMTP AUTH LOGIN sends it)."""
    return [secret, base64.b64encode(secret.encode()).decode()]


def _leaks(secrets: dict[str, str], where: str, text: str) -> list[str]:
    return [f"{name} in {where}" for name, secret in secrets.items() for form in _variants(secret) if form in text]


async def _enqueue(engine: Engine, key: str, now: dt.datetime) -> None:
    with session_scope(engine) as session:
        user = session.exec(select(User).where(User.username == "qx01-liaison")).one()
        assert enqueue_mail(session, key=key, to=user, template="submission_approved",
                            context=CONTEXTS["submission_approved"], now=now)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # the local test server's plain AUTH
async def test_no_secret_reaches_logs_output_audit_or_outbox(
        anon: httpx.AsyncClient, demo_county: Engine, clock: FakeClock, logs: Capture, smtp_server: Sink,
        capfd: pytest.CaptureFixture[str]) -> None:
    from flows.tick import smtp_mailer

    secrets: dict[str, str] = {"demo password": DEMO_PASSWORD, "wrong password": WRONG_PASSWORD,
                               "CLI password": CLI_PASSWORD, "SMTP password": SMTP_PASSWORD}

    # Sign in through the API, right and wrong; use the tokens (a read and a write).
    for username in ("qx01-liaison", "admin"):
        wrong = await anon.post("/api/v1/auth/token", json={"username": username, "password": WRONG_PASSWORD})
        assert wrong.status_code == 401
        right = await anon.post("/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD})
        assert right.status_code == 200, right.text
        token = right.json()["access_token"]
        secrets[f"bearer token of {username}"] = token
        assert (await anon.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    bearer = {"Authorization": f"Bearer {secrets['bearer token of qx01-liaison']}"}
    refused = await anon.post("/api/v1/submissions", headers=bearer, json={"obligation_id": 999_999, "data": {}})
    assert refused.status_code == 404
    forged = await anon.get("/api/v1/me", headers={"Authorization": "Bearer dbn_" + "x" * 43})
    assert forged.status_code == 401

    # Sign in through the web form, right and wrong; use the cookie and its CSRF token.
    page = await anon.post("/login", data={"username": "qx02-liaison", "password": WRONG_PASSWORD})
    assert page.status_code == 401
    web = await web_sign_in(anon, "qx02-liaison")
    secrets |= {"session cookie": web.cookie, "CSRF token": web.csrf}
    anon.cookies.clear()
    cookie = {"Cookie": f"duban_session={web.cookie}"}
    assert (await anon.get("/todos", headers=cookie)).status_code == 200
    assert (await anon.post("/api/v1/submissions", headers=cookie | {"X-CSRF-Token": web.csrf},
                            json={"obligation_id": 999_999, "data": {}})).status_code == 404
    assert (await anon.post("/api/v1/submissions", headers=cookie | {"X-CSRF-Token": "wrong"},
                            json={"obligation_id": 999_999, "data": {}})).status_code == 403
    # A new account from the command line, and its first sign-in.
    created = CliRunner().invoke(cli, ["users", "add", "--username", "qx04-liaison", "--role", "submitter", "--name",
                                       "秀水乡党建联络员", "--unit", "QX04", "--password", CLI_PASSWORD])
    assert created.exit_code == 0, created.output
    assert CLI_PASSWORD not in created.output
    assert (await anon.post("/api/v1/auth/token", json={"username": "qx04-liaison", "password": CLI_PASSWORD})).status_code == 200

    # Mail over SMTP with credentials: accepted, then refused by the server for a wrong password.
    now = clock.now()
    await _enqueue(demo_county, "secrets-test-1", now)
    sent = await deliver_pending(demo_county, smtp_mailer(), now, holder="test")
    assert (sent.sent, smtp_server.received) == (1, 1), sent
    await _enqueue(demo_county, "secrets-test-2", now)
    mailer = smtp_mailer()
    mailer.password = "Not-The-" + SMTP_PASSWORD  # the server refuses it
    secrets["refused SMTP password"] = mailer.password
    failed = await deliver_pending(demo_county, mailer, now, holder="test")
    assert failed.sent == 0 and failed.retried + failed.dead == 1, failed
    assert any("outbox message" in line for line in logs.lines), "the refused delivery was not logged"

    # Nothing anywhere.
    out, err = capfd.readouterr()
    problems = _leaks(secrets, "the logs", "\n".join(logs.lines))
    problems += _leaks(secrets, "stdout", out) + _leaks(secrets, "stderr", err) + _leaks(secrets, "CLI output", created.output)
    assert logs.lines, "no log record was captured"
    for table, rows in db_snapshot(demo_county).items():
        text = "\n".join(rows)
        if table == "web_sessions":  # holds the CSRF token by design, and only the session cookie's hash
            text = re.sub(re.escape(web.csrf), "<csrf>", text)
        problems += _leaks(secrets, f"table {table}", text)
    assert problems == [], "\n".join(problems)


def test_settings_do_not_show_their_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBAN_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("DUBAN_DATABASE_URL", f"postgresql+psycopg://duban:{DB_PASSWORD}@db.internal/duban")
    settings = Settings()
    # The values are there for the code that needs them ...
    assert settings.smtp_password is not None and settings.smtp_password.get_secret_value() == SMTP_PASSWORD
    assert DB_PASSWORD in settings.effective_database_url
    # ... but not in what a log line, a traceback or a config dump would show.
    for shown in (repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump())):
        assert SMTP_PASSWORD not in shown and DB_PASSWORD not in shown, shown


async def test_health_and_docs_show_no_configuration(client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBAN_SMTP_PASSWORD", SMTP_PASSWORD)
    get_settings.cache_clear()
    health = await client.get("/healthz")
    assert health.json() == {"status": "ok"}
    for path in ("/healthz", "/openapi.json", "/api/v1/me"):
        text = (await client.get(path)).text
        assert SMTP_PASSWORD not in text and str(get_settings().var_dir) not in text, path
