"""Typed settings, read once from the environment (prefix ``DUBAN_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    # The checkout's .env, then one in the working directory: `duban run` and every other command read the same
    # file wherever they are started from (variables set in the environment win over both).
    model_config = SettingsConfigDict(env_prefix="DUBAN_", env_file=(REPO_ROOT / ".env", ".env"), extra="ignore")

    var_dir: Path = REPO_ROOT / "var"
    # Secrets (the URL may hold the database password) are SecretStr: hidden in repr, str and dumps.
    database_url: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices("DUBAN_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL; empty means the SQLite file var/duban.db",
    )
    sqlite_busy_timeout_ms: int = 15_000
    definitions_dir: Path = REPO_ROOT / "definitions"
    timezone: str = "Asia/Shanghai"
    min_year: int = 2000
    max_year: int = 2100

    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = ""
    scheduler: Literal["embedded", "prefect", "off"] = "embedded"

    organisation_name: str = "清溪县委组织部"
    document_prefix: str = Field(default="清组督", min_length=1, max_length=16,
                                 description="issuing-organ abbreviation in document numbers: 清组督〔2027〕3号")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_sink: bool = True
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: bool = False
    smtp_starttls: bool = False
    smtp_timeout: float = 10.0
    mail_from: str = "duban@localhost"
    digest_hour: int = 8
    # Channels besides mail (README "Channels"): robots' secrets are sealed with channels_key (a key file in
    # var_dir when unset); SMS goes to a provider-neutral gateway as JSON {phone_field, text_field, id}.
    channels_key: SecretStr | None = None
    channels_timeout: float = 10.0
    channels_sink: bool = True
    channels_sink_port: int = 8026
    sms_gateway_url: str = ""
    sms_gateway_token: SecretStr | None = None
    sms_phone_field: str = "phone"
    sms_text_field: str = "text"
    sms_sign: str = Field(default="清溪督办", max_length=10, description="the SMS signature 【…】, counted in 70 characters")
    tick_seconds: int = 60
    deliver_seconds: int = 10

    audit_anchor_file: Path = Field(
        default=Path.home() / ".local" / "state" / "duban" / "audit-anchors.jsonl",
        description="where `duban audit anchor` appends the chain's head: outside the database's directory")
    audit_anchor_hour: int = Field(default=2, ge=0, le=23, description="the daily anchor's hour (embedded scheduler)")

    metrics_token: SecretStr | None = Field(
        default=None, description="/metrics answers a scraper sending `Authorization: Bearer <token>`; unset: "
                                  "only requests from this machine (loopback)")
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", description="JSON lines, plain text, or auto: text on a terminal, JSON otherwise")

    # Townships per Prefect task (and per transaction) in a batch launch. A chunk is written in a few multi-row
    # statements, so 200 hold SQLite's write lock about as long as 50 did one by one; each task costs Prefect ≈10 ms.
    launch_chunk_size: int = 200
    prefect_warmup: bool = True
    password_hashing: Literal["default", "cheap"] = "default"

    max_request_bytes: int = Field(default=12 * 1024 * 1024, ge=1024,
                                   description="larger request bodies answer 413 (attachments 10 MB, Excel 5 MB)")
    login_max_failures: int = Field(default=5, ge=1, description="failed sign-ins per username before a lockout")
    login_lockout_minutes: int = Field(default=15, ge=1, description="the failure window and the lockout length")

    # The 督办 desk (assigned items): where the documents give no number, these are the county's settings.
    desk_ack_workdays: int = Field(default=1, ge=0, le=30, description="签收: working days to sign for an item")
    desk_yellow_workdays: int = Field(default=3, ge=0, le=60, description="a deadline this near shows yellow")
    desk_max_extensions: int = Field(default=1, ge=0, le=10, description="延期申请 allowed per item and recipient")
    desk_decision_workdays: int = Field(default=3, ge=1, le=30, description="the office decides an extension within")
    desk_bulletin_day: int = Field(default=5, ge=1, le=28,
                                   description="定期通报: the month's bulletin of the previous month is drafted on this day")
    desk_score_base: float = 60.0
    desk_score_on_time: float = 40.0
    desk_score_per_overdue: float = 5.0
    desk_score_per_extension: float = 1.0
    desk_score_per_level: float = 2.0
    desk_score_per_case: float = 10.0

    @property
    def effective_database_url(self) -> str:
        if url := self.database_url.get_secret_value():
            return url
        return f"sqlite:///{self.var_dir / 'duban.db'}"

    @property
    def effective_base_url(self) -> str:
        return self.base_url or f"http://{self.host}:{self.port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
