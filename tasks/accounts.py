"""Accounts: argon2 password hashes, API tokens, web sessions, and who may see which township."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import CHEAPEST
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlmodel import Session, col, select

from core.settings import get_settings
from domain.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from domain.review import Actor
from models import ApiToken, OrgUnit, User, UserScope, WebSession
from tasks.audit import SYSTEM, AuditActor, append_event, record


@lru_cache(maxsize=2)
def _hasher_for(profile: str) -> PasswordHasher:
    # "cheap" exists only so test suites can create many accounts quickly.
    return PasswordHasher.from_parameters(CHEAPEST) if profile == "cheap" else PasswordHasher()


def _current_hasher() -> PasswordHasher:
    return _hasher_for(get_settings().password_hashing)


@lru_cache(maxsize=2)
def _dummy_hash(profile: str) -> str:
    # A real hash to verify against when the user does not exist, so timing does not reveal usernames.
    return _hasher_for(profile).hash("not-a-real-password")
TOKEN_TTL = dt.timedelta(days=30)
SESSION_TTL = dt.timedelta(hours=12)
MAX_FAILED_LOGINS = 10

ROLES = ("admin", "reviewer", "submitter", "observer")


def hash_password(password: str) -> str:
    return _current_hasher().hash(password)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    display_name: str = Field(min_length=1, max_length=100)
    role: str
    level: str | None = None
    unit: str | None = Field(default=None, max_length=32, description="org unit code the role acts for")
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = Field(min_length=8, max_length=200)
    scopes: list[str] = Field(default_factory=list, description="observers: contact township/village codes")
    daily_digest: bool = Field(default=False, description="reminders as one mail a day")

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        if value not in ROLES:
            raise ValueError(f"角色只能是 {', '.join(ROLES)}")
        return value

    @field_validator("email", "level", "unit", mode="before")
    @classmethod
    def _blank(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


def create_user(session: Session, data: dict[str, Any], now: dt.datetime, *, by: AuditActor = SYSTEM) -> User:
    """Validate and add a user; the unit must fit the role (a township for submitters, …). The account is an
    audit event of ``by`` (never its password)."""
    try:
        spec = UserIn.model_validate(data)
    except ValidationError as exc:
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": str(e["msg"])} for e in exc.errors()]
        raise ValidationFailed("账户信息有误：" + "；".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors) from None
    if session.exec(select(User).where(User.username == spec.username)).first():
        raise Conflict(f"用户名 {spec.username} 已存在")
    unit = session.exec(select(OrgUnit).where(OrgUnit.code == spec.unit)).first() if spec.unit else None
    if spec.unit and unit is None:
        raise ValidationFailed(f"组织编码 {spec.unit} 不存在", errors=[{"field": "unit", "message": "unknown"}])
    expected = {"admin": "county", "submitter": "township", "observer": None}.get(spec.role)
    if spec.role == "reviewer":
        if spec.level not in ("township", "county"):
            raise ValidationFailed("审核人必须指定层级 township 或 county", errors=[{"field": "level", "message": "required"}])
        expected = spec.level
    elif spec.level:
        raise ValidationFailed("只有审核人有层级", errors=[{"field": "level", "message": "only for reviewers"}])
    if spec.role == "submitter" and unit is not None and unit.kind == "unit":
        expected = "unit"  # a dispatching unit's account: it reports its quarter to the 基层办 (003 §四(六))
    if expected and (unit is None or unit.kind != expected):
        raise ValidationFailed(
            f"角色 {spec.role} 需要一个{'县' if expected == 'county' else '乡镇'}级组织编码",
            errors=[{"field": "unit", "message": f"must be a {expected}"}],
        )
    user = User(
        username=spec.username, display_name=spec.display_name, email=spec.email, role=spec.role,
        level=spec.level, org_unit_id=unit.id if unit else None, password_hash=hash_password(spec.password),
        daily_digest=spec.daily_digest,
        created_at=now,
    )
    session.add(user)
    session.flush()
    for code in spec.scopes:
        scope_unit = session.exec(select(OrgUnit).where(OrgUnit.code == code)).first()
        if scope_unit is None or scope_unit.kind == "county":
            raise ValidationFailed(f"联系点编码 {code} 不存在或不是乡镇/村", errors=[{"field": "scopes", "message": code}])
        session.add(UserScope(user_id=user.id or 0, org_unit_id=scope_unit.id or 0))
    record(session, by, "user.created", ("user", user.id or 0), now=now, after={
        "username": user.username, "role": user.role, "level": user.level, "unit": spec.unit, "scopes": spec.scopes})
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The user if the password is right; counts failures and refuses a locked account."""
    user = session.exec(select(User).where(User.username == username)).first()
    _hasher = _current_hasher()
    if user is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_dummy_hash(get_settings().password_hashing), password)
        return None
    if not user.active or user.failed_logins >= MAX_FAILED_LOGINS:
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        user.failed_logins += 1
        session.add(user)
        return None
    if user.failed_logins:
        user.failed_logins = 0
        session.add(user)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.add(user)
    return user


def issue_token(session: Session, user: User, now: dt.datetime, name: str = "api") -> tuple[str, dt.datetime]:
    token = "dbn_" + secrets.token_urlsafe(32)
    expires = now + TOKEN_TTL
    session.add(ApiToken(user_id=user.id or 0, token_hash=_digest(token), name=name, created_at=now, expires_at=expires))
    return token, expires


def user_for_token(session: Session, token: str, now: dt.datetime) -> User | None:
    """The active user of a live API token (one query: the token's expiry and its user)."""
    row = session.exec(select(ApiToken.expires_at, User).join(User, col(User.id) == ApiToken.user_id)
                       .where(ApiToken.token_hash == _digest(token))).first()
    if row is None or row[0] <= now:
        return None
    user = row[1]
    return user if user.active else None


def csrf_token_for(cookie: str) -> str:
    """The CSRF token of the web session with this cookie.

    Derived from the cookie rather than stored, so neither the database nor its logged rows and parameters
    ever hold it in clear (the session row keeps only its digest); without the cookie it cannot be computed.
    """
    return hmac.new(cookie.encode(), b"duban-csrf-token", hashlib.sha256).hexdigest()


def open_session(session: Session, user: User, now: dt.datetime) -> tuple[str, str]:
    """A new web session: returns (cookie value, CSRF token)."""
    cookie = secrets.token_urlsafe(32)
    csrf = csrf_token_for(cookie)
    session.add(WebSession(user_id=user.id or 0, session_hash=_digest(cookie), csrf_token=_digest(csrf), created_at=now,
                           expires_at=now + SESSION_TTL))
    return cookie, csrf


def web_session(session: Session, cookie: str, now: dt.datetime) -> tuple[User, WebSession] | None:
    row = session.exec(select(WebSession).where(WebSession.session_hash == _digest(cookie))).first()
    if row is None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    return (user, row) if user and user.active else None


def close_session(session: Session, cookie: str) -> None:
    row = session.exec(select(WebSession).where(WebSession.session_hash == _digest(cookie))).first()
    if row is not None:
        session.delete(row)


def end_sessions(session: Session, user: User) -> int:
    """Delete every web session and API token of ``user`` (no commit); returns how many ended."""
    ended = 0
    for row in [*session.exec(select(WebSession).where(WebSession.user_id == user.id)),
                *session.exec(select(ApiToken).where(ApiToken.user_id == user.id))]:
        session.delete(row)
        ended += 1
    return ended


def _account(session: Session, username: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"没有用户名为 {username} 的账户")
    return user


def deactivate_user(session: Session, username: str, now: dt.datetime, *, actor: str = "cli") -> int:
    """Deactivate an account: it can no longer sign in, and its sessions and tokens end now (no commit).

    Returns how many sessions and tokens ended; the change is an audit event.
    """
    user = _account(session, username)
    was_active = user.active
    user.active = False
    session.add(user)
    ended = end_sessions(session, user)
    append_event(session, actor_id=None, actor=actor, action="user.deactivated", subject_type="user",
                 subject_id=user.id or 0, township_id=None, before={"active": was_active},
                 after={"active": False, "sessions_ended": ended}, now=now)
    return ended


def set_password(session: Session, username: str, password: str, now: dt.datetime, *, actor: str = "cli") -> int:
    """Give an account a new password and end its sessions and tokens (no commit); returns how many ended.

    The failed-sign-in count starts afresh. The audit event records the change, never the password.
    """
    if not 8 <= len(password) <= 200:
        raise ValidationFailed("密码长度应为 8 到 200 个字符", errors=[{"field": "password", "message": "8..200"}])
    user = _account(session, username)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    session.add(user)
    ended = end_sessions(session, user)
    append_event(session, actor_id=None, actor=actor, action="user.password_changed", subject_type="user",
                 subject_id=user.id or 0, township_id=None, before=None, after={"sessions_ended": ended}, now=now)
    return ended


@dataclass(frozen=True)
class Principal:
    """The signed-in user with what they may see: ``townships`` is None for county-wide roles."""

    user: User
    townships: frozenset[int] | None

    @property
    def actor(self) -> Actor:
        township = self.user.org_unit_id if self.user.role in ("submitter", "reviewer") and self.user.level != "county" else None
        return Actor(id=self.user.id or 0, role=self.user.role, level=self.user.level, township_id=township)

    @property
    def by(self) -> AuditActor:
        """The principal as the actor of an audit event."""
        return AuditActor(self.user.id, self.user.username)

    def can_see(self, township_id: int | None) -> bool:
        return self.townships is None or township_id in self.townships

    def require_role(self, *roles: str) -> None:
        if self.user.role not in roles:
            raise PermissionDenied("您的角色无权执行此操作")


def principal_for(session: Session, user: User) -> Principal:
    if user.role == "admin" or (user.role == "reviewer" and user.level == "county"):
        return Principal(user, None)
    if user.role in ("submitter", "reviewer"):
        return Principal(user, frozenset({user.org_unit_id or -1}))
    townships: set[int] = set()
    for unit in session.exec(select(OrgUnit).join(UserScope, UserScope.org_unit_id == OrgUnit.id).where(UserScope.user_id == user.id)):  # type: ignore[arg-type]
        townships.add((unit.parent_id if unit.kind == "village" else unit.id) or -1)
    return Principal(user, frozenset(townships))


def require_admin(principal: Principal) -> None:
    principal.require_role("admin")


DEMO_PASSWORD = "duban-demo-2027"


def demo_users() -> list[dict[str, Any]]:
    """Demo accounts for the demo county; all share DEMO_PASSWORD."""
    users: list[dict[str, Any]] = [
        {"username": "admin", "display_name": "县委组织部组织科", "role": "admin", "unit": "QX", "email": "zzb@qingxi.example"},
        {"username": "county-reviewer", "display_name": "县委组织部审核员", "role": "reviewer", "level": "county", "unit": "QX", "email": "shenhe@qingxi.example"},
        {"username": "observer", "display_name": "县领导（联系青石镇、柳河乡）", "role": "observer", "scopes": ["QX01", "QX02"], "email": "lingdao@qingxi.example"},
    ]
    for code, name in (("QX01", "青石镇"), ("QX02", "柳河乡"), ("QX03", "白沙镇")):
        lower = code.lower()
        users.append({"username": f"{lower}-liaison", "display_name": f"{name}党建联络员", "role": "submitter", "unit": code, "email": f"{lower}-liaison@qingxi.example"})
        users.append({"username": f"{lower}-secretary", "display_name": f"{name}党委审核人", "role": "reviewer", "level": "township", "unit": code, "email": f"{lower}-secretary@qingxi.example"})
    users.append({"username": "qxd02-liaison", "display_name": "县农业农村局驻村工作联络员", "role": "submitter",
                  "unit": "QXD02", "email": "qxd02-liaison@qingxi.example"})
    for user in users:
        user["password"] = DEMO_PASSWORD
    return users


def seed_demo_users(session: Session, now: dt.datetime) -> list[dict[str, Any]]:
    """Create the demo users that do not exist yet; returns the ones created."""
    created = []
    for spec in demo_users():
        if session.exec(select(User).where(User.username == spec["username"])).first() is None:
            create_user(session, spec, now)
            created.append(spec)
    return created
