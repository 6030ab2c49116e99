"""Server-rendered pages (zh-CN)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import StrictUndefined

from api.auth import SESSION_COOKIE, csrf_matches
from api.deps import ClockDep, OptionalPrincipal, PageAdmin, PagePrincipal, SessionDep
from api.types import DbId
from core.clock import local_today
from core.settings import get_settings
from domain.errors import DubanError, PermissionDenied
from domain.targets import requirement
from domain.vocabulary import action_label, period_label, status_label, zh_date, zh_datetime
from tasks.accounts import close_session, open_session
from tasks.login_guard import Lockout, attempt_login
from tasks.reads import campaigns as campaign_reads
from tasks.reads import org_units as org_unit_reads
from tasks.reads import submissions as submission_reads
from tasks.reads import targets as target_reads
from tasks.reads import todos as todo_reads
from tasks.reads.campaign_overview import campaign_overview
from tasks.registry import get_definitions, refresh

templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
templates.env.undefined = StrictUndefined

templates.env.filters["zh_date"] = zh_date
templates.env.filters["zh_datetime"] = zh_datetime  # histories: 2027年3月20日 09:30
templates.env.filters["action_label"] = action_label  # audit actions: submission.return → 退回修改
templates.env.filters["period_label"] = period_label  # 2026Q4 → 2026年第四季度
templates.env.filters["status_label"] = status_label  # {{ s.status | status_label('stage') }}

FLASH_COOKIE = "duban_flash"
PAGE_SIZE = 50
ROLE_LABELS = {"admin": "管理员（县委组织部）", "reviewer": "审核人", "submitter": "填报人", "observer": "观察员（县领导）"}
templates.env.filters["role_label"] = lambda r: ROLE_LABELS.get(r, r)


def show_value(value: Any) -> str:
    """A form value as text: lists (villages, attachments) joined, a number per village as 村编码：数字, booleans as
    是/否, nothing as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if isinstance(value, dict):  # a number per village
        return "；".join(f"{k}：{v}" for k, v in value.items())
    return str(value)


templates.env.filters["show_value"] = show_value
templates.env.filters["target_requirement"] = requirement


def wants_html(request: Request) -> bool:
    """A browser (not an API client with a token) asked: errors become pages, not problem+json."""
    return "text/html" in request.headers.get("accept", "") and not request.headers.get("authorization")


class HtmlErrorRoute(APIRoute):
    """Web pages answer a browser's 403/404/409 with a zh-CN error page; API clients keep problem+json."""

    def get_route_handler(self) -> Any:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except DubanError as exc:
                if not wants_html(request):
                    raise
                return error_page(request, exc.status, exc.title, exc.detail)

        return handler


router = APIRouter(include_in_schema=False, route_class=HtmlErrorRoute)


def error_page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    return render(request, "error.html", {"status": status, "title": title, "detail": detail}, status_code=status)


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    from urllib.parse import unquote

    context.setdefault("organisation", get_settings().organisation_name)
    context.setdefault("user", None)
    context.setdefault("csrf_token", getattr(request.state, "csrf_token", ""))
    raw = request.cookies.get(FLASH_COOKIE)
    kind, _, text = unquote(raw).partition(":") if raw else ("", "", "")
    context.setdefault("flash", {"kind": kind, "text": text} if text else None)
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    if raw:
        response.delete_cookie(FLASH_COOKIE)
    return response


def flash_redirect(url: str, message: str, kind: str = "ok") -> RedirectResponse:
    """Redirect after an action (POST → 303 → GET) with a one-time message shown on the next page."""
    from urllib.parse import quote

    response = RedirectResponse(url, status_code=303)
    response.set_cookie(FLASH_COOKIE, quote(f"{kind}:{message}"), httponly=True, samesite="lax", max_age=300)
    return response


def paginate(items: list[Any], page: int, size: int = PAGE_SIZE) -> dict[str, Any]:
    """One page of ``items`` (``?page=`` starts at 1) with what the pager needs."""
    pages = max(1, (len(items) + size - 1) // size)
    page = min(max(1, page), pages)
    return {"rows": items[(page - 1) * size: page * size], "page": page, "pages": pages, "total": len(items)}


def check_csrf(request: Request, sent: str) -> None:
    expected = getattr(request.state, "csrf_token", "")
    if not csrf_matches(sent, expected):
        raise PermissionDenied("表单已过期（CSRF 校验失败），请刷新页面后重试")


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", {"next": next if next.startswith("/") and not next.startswith("//") else "/", "error": None})


@router.post("/login", response_model=None)
def login(
    request: Request, session: SessionDep, clock: ClockDep,
    username: Annotated[str, Form(max_length=64)], password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=200)] = "/",
) -> HTMLResponse | RedirectResponse:
    now = clock.now()
    user = attempt_login(session, username, password, now, channel="web", client=request.client.host if request.client else None)
    if isinstance(user, Lockout):
        session.commit()
        page = render(request, "login.html", {"next": next, "error": user.message(now)}, status_code=429)
        page.headers["Retry-After"] = str(user.retry_after(now))
        return page
    if user is None:
        session.commit()
        return render(request, "login.html", {"next": next, "error": "用户名或密码错误"}, status_code=401)
    cookie, _ = open_session(session, user, now)
    session.commit()
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE, cookie, httponly=True, samesite="lax", max_age=12 * 3600,
        secure=get_settings().effective_base_url.startswith("https://"),
    )
    return response


@router.post("/logout")
def logout(
    request: Request, session: SessionDep, principal: OptionalPrincipal,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    cookie = request.cookies.get(SESSION_COOKIE)
    expected = getattr(request.state, "csrf_token", "")
    if cookie and principal is not None and csrf_matches(csrf_token, expected):
        close_session(session, cookie)
        session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/", response_class=HTMLResponse, response_model=None)
def index(request: Request, session: SessionDep, principal: PagePrincipal) -> HTMLResponse:
    refresh(session)  # the names of the newest versions, whichever process published them
    definitions = get_definitions()
    return render(request, "index.html", {
        "user": principal.user, "definitions": [definitions[k] for k in sorted(definitions)],
        "counts": org_unit_reads.counts_by_kind(session),
        "campaigns": campaign_reads.latest_campaigns(session, principal, limit=50),
    })


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse, response_model=None)
def campaign_page(
    campaign_id: DbId, request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep
) -> HTMLResponse:
    """The campaign as a clerk reads it: its stages on the calendar, then its deadlines by stage and village."""
    overview = campaign_overview(session, principal, campaign_id, local_today(clock))
    return render(request, "campaign.html", {"user": principal.user, **overview,
                                             "targets": target_reads.campaign_targets(session, principal, campaign_id)})


def _decoded_header(value: str | None) -> str:
    from email.header import decode_header, make_header

    return str(make_header(decode_header(value))) if value else ""


def _mail_date(header: str | None) -> str:
    """A mail's Date header as 2026年12月6日 16:04 in China time (an unreadable one as it is)."""
    from email.utils import parsedate_to_datetime

    try:
        return zh_datetime(parsedate_to_datetime(header)) if header else ""
    except (TypeError, ValueError):
        return header or ""


@router.get("/admin/mail", response_class=HTMLResponse, response_model=None)
def mailbox_page(request: Request, principal: PageAdmin, page: int = 1) -> HTMLResponse:
    """The local SMTP sink's captured mail, so a newcomer sees the reminders arrive (admins only)."""
    import mailbox

    folder = get_settings().var_dir / "mail"
    messages = []
    if (folder / "cur").exists():
        box = mailbox.Maildir(folder, create=False)
        for key, msg in box.items():
            text = ""
            for part in msg.walk():
                if part.get_content_type() == "text/plain":
                    payload = part.get_payload(decode=True)
                    text = payload.decode(part.get_content_charset() or "utf-8", "replace") if isinstance(payload, bytes) else ""
                    break
            messages.append({
                "key": key, "subject": _decoded_header(msg["Subject"]), "to": _decoded_header(msg["To"]),
                "date": _mail_date(msg["Date"]), "text": text, "mtime": (folder / "new" / key).stat().st_mtime
                if (folder / "new" / key).exists() else 0,
            })
    messages.sort(key=lambda m: m["mtime"], reverse=True)
    size = 50
    page = max(1, page)
    from notifications.sink import read_channel_log

    return render(request, "mailbox.html", {
        "user": principal.user, "messages": messages[(page - 1) * size: page * size], "total": len(messages),
        "page": page, "pages": max(1, (len(messages) + size - 1) // size),
        "channel_messages": read_channel_log(get_settings().var_dir / "channels" / "received.jsonl"),
    })


@router.get("/todos", response_class=HTMLResponse, response_model=None)
def todos_page(request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep,
               page: int = 1) -> HTMLResponse:
    """The township's to-do list, soonest deadline first, with what is still missing; reviewers see their queue."""
    items: list[dict[str, Any]] = []
    queue: list[dict[str, Any]] = []
    if principal.user.role == "submitter":
        items = todo_reads.todos(session, principal, local_today(clock), limit=500, missing=True)
    elif principal.user.role in ("admin", "reviewer"):
        queue = submission_reads.review_queue(session, principal, now=clock.now())
    pager = paginate(items or queue, page)
    return render(request, "todos.html", {
        "user": principal.user, "items": pager["rows"] if items else [], "queue": pager["rows"] if queue else [],
        "pager": pager,
    })


def _judgements(verdicts: list[str], note_keys: list[str], notes: list[str]) -> dict[str, dict[str, Any]] | None:
    """The checklist's selects (``<check>:yes`` / ``<check>:no``, empty when not judged) and the notes beside them,
    as the ``checks`` of a decision."""
    written = dict(zip(note_keys, notes, strict=False))
    out = {}
    for value in verdicts:
        key, _, answer = value.rpartition(":")
        if key and answer in ("yes", "no"):
            out[key] = {"confirmed": answer == "yes", "note": written.get(key, "")}
    return out or None


@router.get("/submissions/{submission_id}", response_class=HTMLResponse, response_model=None)
def submission_page(submission_id: DbId, request: Request, session: SessionDep,
                    principal: PagePrincipal, clock: ClockDep) -> HTMLResponse:
    """A submission with its content, attachments, rounds, changes since the last return, reviews and
    audit history; reviewers decide here, the township edits and submits from here."""
    view = submission_reads.submission_view(session, principal, submission_id, now=clock.now())
    return render(request, "submission.html", {"user": principal.user, "s": view.pop("submission"), **view})


@router.post("/submissions/{submission_id}/decide", response_model=None)
def submission_decide(
    submission_id: DbId, request: Request, session: SessionDep, principal: PagePrincipal, clock: ClockDep,
    decision: Annotated[str, Form(max_length=16)], version: Annotated[int, Form()],
    csrf_token: Annotated[str, Form(max_length=100)] = "", comment: Annotated[str, Form(max_length=4000)] = "",
    verdict: Annotated[list[str], Form(max_length=50)] = [],  # noqa: B006 (FastAPI copies defaults)
    note_key: Annotated[list[str], Form(max_length=50)] = [],  # noqa: B006
    note: Annotated[list[str], Form(max_length=50)] = [],  # noqa: B006
    override_reason: Annotated[str, Form(max_length=2000)] = "",
) -> RedirectResponse:
    from tasks import review as service

    service.load_submission(session, principal, submission_id)  # outside scope: 404 before anything else
    check_csrf(request, csrf_token)
    try:
        if decision == "submit":
            service.submit_submission(session, principal, clock.now(), submission_id, version)
        elif decision == "withdraw":
            service.withdraw_submission(session, principal, clock.now(), submission_id, version)
        else:
            service.decide(session, principal, clock.now(), submission_id, decision=decision, comment=comment or None,
                           version=version, checks=_judgements(verdict, note_key, note),
                           override_reason=override_reason or None)
        session.commit()
        message = {"approve": "已审核通过", "return": "已退回修改", "reject": "已不予通过", "submit": "已提交",
                   "withdraw": "已撤回为草稿"}.get(decision, "已处理")
        kind = "ok"
    except DubanError as exc:
        session.rollback()
        if exc.status == 404:
            raise
        message, kind = f"操作未完成：{exc.detail}", "error"
    return flash_redirect(f"/submissions/{submission_id}", message, kind)
