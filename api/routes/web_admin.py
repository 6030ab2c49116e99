"""Administrators' web pages: launch campaigns (preview → confirm), org units, users, holiday
calendars and campaign definitions. Everything goes through the same tasks and flows as the JSON API."""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

import flows.launch as launch_flows
from api.deps import ClockDep, PageAdmin, SessionDep
from api.routes.web import HtmlErrorRoute, check_csrf, flash_redirect, paginate, render
from core.clock import local_today
from domain.definitions import Definition
from domain.errors import DubanError, NotFound
from domain.planning import LateStart
from domain.vocabulary import LatePolicy, zh_date
from tasks.accounts import Principal, create_user
from tasks.launch import check_year, load_context, plan_late
from tasks.reads import accounts as account_reads
from tasks.reads import calendars as calendar_reads
from tasks.reads import org_units as org_unit_reads
from tasks.registry import get_definition, get_definitions, refresh

router = APIRouter(include_in_schema=False, route_class=HtmlErrorRoute)

MAX_UPLOAD = 1024 * 1024


# ---- launch -----------------------------------------------------------------------------------------


def _launch_page(request: Request, session: Session, principal: Principal, clock: ClockDep, *, definition: str = "",
                 year: int | None = None, chosen: list[str] | None = None, preview: dict[str, Any] | None = None,
                 errors: dict[str, str] | None = None, status_code: int = 200, late: LateStart | None = None) -> HTMLResponse:
    return render(request, "launch.html", {
        "user": principal.user, "definitions": launchable_definitions(session), "definition": definition,
        "year": year or local_today(clock).year, "townships": org_unit_reads.townships(session, principal), "chosen": chosen or [],
        "preview": preview, "errors": errors or {}, "late": late or LateStart(), "late_policies": LatePolicy,
    }, status_code=status_code)


@router.get("/admin/launch", response_class=HTMLResponse, response_model=None)
def launch_form(request: Request, session: SessionDep, principal: PageAdmin,
                clock: ClockDep) -> HTMLResponse:
    return _launch_page(request, session, principal, clock)


def _checked_launch(session: Session, principal: Principal, definition: str, year: str, townships: list[str]) -> tuple[int, dict[str, str]]:
    errors: dict[str, str] = {}
    if definition not in get_definitions():
        errors["definition"] = "请选择督办定义"
    number = int(year) if year.strip().isdigit() else 0
    if not number:
        errors["year"] = "请填写年度，例如 2027"
    elif "definition" not in errors:
        try:
            check_year(get_definition(definition), number)
        except DubanError as exc:
            errors["year"] = exc.detail
    known = {t.code for t in org_unit_reads.townships(session, principal)}
    if not townships:
        errors["townships"] = "请至少选择一个乡镇"
    elif set(townships) - known:
        errors["townships"] = f"不认识的乡镇编码：{'、'.join(sorted(set(townships) - known))}"
    return number, errors


def _posted_launch(request: Request, session: Session, principal: Principal, clock: ClockDep, definition: str,
                   year: str, townships: list[str] | None, csrf_token: str) -> tuple[list[str], int, HTMLResponse | None]:
    """A posted launch form, checked: the township codes (each once), the year, and — when a field is
    wrong — the form again with the errors next to the fields (422)."""
    check_csrf(request, csrf_token)
    codes = list(dict.fromkeys(townships or []))
    number, errors = _checked_launch(session, principal, definition, year, codes)
    if not errors:
        return codes, number, None
    return codes, number, _launch_page(request, session, principal, clock, definition=definition, year=number or None,
                                       chosen=codes, errors=errors, status_code=422)


@router.post("/admin/launch/preview", response_class=HTMLResponse, response_model=None)
def launch_preview(
    request: Request, session: SessionDep, principal: PageAdmin, clock: ClockDep,
    definition: Annotated[str, Form(max_length=64)] = "", year: Annotated[str, Form(max_length=8)] = "",
    townships: Annotated[list[str] | None, Form()] = None, csrf_token: Annotated[str, Form(max_length=100)] = "",
    late: Annotated[LatePolicy, Form()] = LatePolicy.WAIVE, catch_up_workdays: Annotated[int, Form(ge=1, le=60)] = 10,
) -> HTMLResponse:
    """The stages and deadlines the launch would create, planned by the same code the launch uses (with the
    launcher's choice for the deadlines already past)."""
    codes, number, refused = _posted_launch(request, session, principal, clock, definition, year, townships, csrf_token)
    if refused is not None:
        return refused
    ctx = load_context(session, definition, codes)
    today = local_today(clock)
    choice = LateStart(late, catch_up_workdays)
    plans = [plan_late(ctx, code, number, today, choice)[0] for code in codes]
    names = {t.code: t.name for t in ctx.townships.values()}
    subjects = {t.code: t.name for t in ctx.townships.values()} | {
        v.code: v.name for vs in ctx.villages.values() for v in vs}
    preview = {
        "definition": ctx.definition, "year": number, "codes": codes,
        "plans": [{"township": code, "township_name": names[code], "plan": plan} for code, plan in zip(codes, plans, strict=True)],
        "subjects": subjects,
    }
    return _launch_page(request, session, principal, clock, definition=definition, year=number, chosen=codes, preview=preview,
                        late=choice)


@router.post("/admin/launch", response_model=None)
async def launch_confirm(
    request: Request, session: SessionDep, principal: PageAdmin, clock: ClockDep,
    definition: Annotated[str, Form(max_length=64)] = "", year: Annotated[str, Form(max_length=8)] = "",
    townships: Annotated[list[str] | None, Form()] = None, csrf_token: Annotated[str, Form(max_length=100)] = "",
    late: Annotated[LatePolicy, Form()] = LatePolicy.WAIVE, catch_up_workdays: Annotated[int, Form(ge=1, le=60)] = 10,
) -> HTMLResponse | RedirectResponse:
    """Launch through the launch flows, exactly as ``POST /api/v1/campaigns`` (one) or ``/batch`` (many) do; the
    message says how many deadlines were already past and what became of them."""
    codes, number, refused = _posted_launch(request, session, principal, clock, definition, year, townships, csrf_token)
    session.commit()  # the flow writes through its own connection
    if refused is not None:
        return refused
    name, choice = get_definition(definition).name, LateStart(late, catch_up_workdays)
    if len(codes) == 1:
        result = await launch_flows.launch_campaign(definition, codes[0], number, now=clock.now(), late=choice,
                                                    by=(principal.by.id, principal.by.name))
        if result["status"] == "exists":
            return flash_redirect(f"/campaigns/{result['campaign_id']}", result["detail"] or "已经启动过", "error")
        return flash_redirect(f"/campaigns/{result['campaign_id']}", f"已启动 {number}年“{name}”" + _late_note([result]))
    items = await launch_flows.launch_for_townships(definition, number, townships=codes, now=clock.now(), late=choice,
                                                    by=(principal.by.id, principal.by.name))
    created = sum(1 for i in items if i["status"] == "created")
    existing = sum(1 for i in items if i["status"] == "exists")
    failed = [i for i in items if i["status"] == "failed"]
    message = f"{number}年“{name}”：新启动 {created} 个乡镇，已启动过 {existing} 个" + (
        f"，失败 {len(failed)} 个（{'；'.join(str(i['detail']) for i in failed[:3])}）" if failed else "")
    return flash_redirect("/", message + _late_note(items), "error" if failed else "ok")


def _late_note(items: list[dict[str, Any]]) -> str:
    """The deadlines already past at launch, in a sentence: how many were waived, how many are owed by when."""
    affected = [a for i in items for a in i.get("affected") or []]
    if not affected:
        return ""
    owed = sorted({a["catch_up_on"] for a in affected if a["catch_up_on"]})
    waived = sum(1 for a in affected if not a["catch_up_on"])
    parts = ([f"{sum(1 for a in affected if a['catch_up_on'])}项限{zh_date(owed[-1])}前补报"] if owed else []) + (
        [f"{waived}项标记为不适用"] if waived else [])
    titles = "、".join(dict.fromkeys(a["title"] for a in affected))
    return f"；启动前已过截止日期的{len(affected)}项（{titles}）：{'，'.join(parts)}"


# ---- org units ----------------------------------------------------------------------------------------


@router.get("/admin/org-units", response_class=HTMLResponse, response_model=None)
def org_units_page(request: Request, session: SessionDep, principal: PageAdmin, page: int = 1,
                   kind: str = "") -> HTMLResponse:
    return render(request, "org_units.html", {
        "user": principal.user, "pager": paginate(org_unit_reads.units(session, principal, kind=kind), page),
        "parents": org_unit_reads.upper_units(session), "kind": kind,
    })


# ---- users --------------------------------------------------------------------------------------------


def _users_page(request: Request, session: Session, principal: Principal, page: int, *, form: dict[str, Any] | None = None,
                errors: dict[str, str] | None = None, message: str | None = None, status_code: int = 200) -> HTMLResponse:
    accounts = account_reads.users_overview(session, principal)
    return render(request, "users.html", {
        "user": principal.user, "pager": paginate(accounts["users"], page), "units": accounts["units"],
        "scopes": accounts["scopes"], "townships": org_unit_reads.townships(session, principal), "form": form or {}, "errors": errors or {}, "message": message,
    }, status_code=status_code)


@router.get("/admin/users", response_class=HTMLResponse, response_model=None)
def users_page(request: Request, session: SessionDep, principal: PageAdmin,
               page: int = 1) -> HTMLResponse:
    return _users_page(request, session, principal, page)


@router.post("/admin/users", response_model=None)
async def add_user(request: Request, session: SessionDep, principal: PageAdmin,
                   clock: ClockDep) -> HTMLResponse | RedirectResponse:
    """Add an account through ``tasks.accounts.create_user`` (the same rules as ``duban users add``)."""
    sent = await request.form()
    check_csrf(request, str(sent.get("csrf_token", "")))
    keys = ("username", "display_name", "role", "level", "unit", "email", "password")
    form = {k: str(sent.get(k, "")).strip() for k in keys}
    data: dict[str, Any] = {k: v for k, v in form.items() if v}
    scopes = [str(s) for s in sent.getlist("scopes") if str(s)]
    if scopes:
        data["scopes"] = scopes
    data["daily_digest"] = sent.get("daily_digest") == "on"
    try:
        user = create_user(session, data, clock.now(), by=principal.by)
        session.commit()
    except DubanError as exc:
        session.rollback()
        errors = {str(e.get("field", "")): str(e.get("message", "")) for e in exc.errors}
        if exc.status == 409:
            errors["username"] = exc.detail
        return _users_page(request, session, principal, 1, form=form | {"scopes": scopes}, errors=errors,
                           message=exc.detail, status_code=exc.status)
    return flash_redirect("/admin/users", f"已添加用户 {user.username}（{user.display_name}）")


# ---- holiday calendars --------------------------------------------------------------------------------


@router.get("/admin/calendars", response_class=HTMLResponse, response_model=None)
def calendars_page(request: Request, session: SessionDep, principal: PageAdmin,
                   year: int | None = None) -> HTMLResponse:
    import datetime as dt

    rows = calendar_reads.calendar_years(session)
    shown = next((r for r in rows if r.year == year), None) if year else (rows[-1] if rows else None)
    if year and shown is None:
        raise NotFound(f"{year}年的节假日安排尚未载入")
    detail = None
    if shown is not None:
        detail = {"row": shown, "holidays": [dt.date.fromisoformat(d) for d in shown.holidays],
                  "makeup": [dt.date.fromisoformat(d) for d in shown.makeup_workdays]}
    return render(request, "calendars.html", {"user": principal.user, "rows": rows, "detail": detail})


@router.post("/admin/calendars", response_model=None)
async def load_calendar_year(
    request: Request, session: SessionDep, principal: PageAdmin, clock: ClockDep,
    file: Annotated[UploadFile, File()], csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    """Load a year's official arrangement (YAML: year, holidays, makeup_workdays), then move that year's
    open deadlines onto it — ``tasks.calendar``, as ``duban calendar load`` does."""
    from tasks.calendar import parse_arrangement, reapply_year, save_arrangement

    check_csrf(request, csrf_token)
    content = await file.read(MAX_UPLOAD + 1)
    try:
        if len(content) > MAX_UPLOAD:
            raise DubanError("文件不能超过 1 MB")
        try:
            data = yaml.load(content.decode("utf-8"), Loader=yaml.BaseLoader)  # noqa: S506 - scalars stay text
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise DubanError(f"{file.filename}：不是有效的 YAML（{exc}）") from None
        arrangement = parse_arrangement(data, file.filename or "上传文件")
        save_arrangement(session, arrangement, clock.now(), note=f"网页上传 {file.filename}", by=principal.by)
        session.flush()
        moved = reapply_year(session, arrangement.year)
        session.commit()
    except DubanError as exc:
        session.rollback()
        return flash_redirect("/admin/calendars", f"未能载入：{exc.detail}", "error")
    return flash_redirect(f"/admin/calendars?year={arrangement.year}",
                          f"已载入{arrangement.year}年节假日安排，调整了 {moved} 个截止日期")


# ---- definitions --------------------------------------------------------------------------------------


def launchable_definitions(session: Session) -> list[Definition]:
    """The newest version of each definition a campaign can be launched from (the 督办 desk's containers,
    ``desk: true``, are not), by key."""
    refresh(session)
    definitions = get_definitions()
    return [definitions[k] for k in sorted(definitions) if not definitions[k].desk]


@router.get("/admin/definitions", response_class=HTMLResponse, response_model=None)
def definitions_page(request: Request, session: SessionDep, principal: PageAdmin, key: str | None = None) -> HTMLResponse:
    shown = get_definition(key) if key else None  # unknown key: 404
    return render(request, "definitions.html", {
        "user": principal.user, "definitions": launchable_definitions(session), "shown": shown, "result": None,
    })


@router.post("/admin/definitions/validate", response_class=HTMLResponse, response_model=None)
async def validate_definition(
    request: Request, session: SessionDep, principal: PageAdmin,
    file: Annotated[UploadFile, File()], csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> HTMLResponse:
    """Check an uploaded definition YAML with the loader's own validation (errors with their lines); nothing is
    stored."""
    from tasks.registry import parse_source

    check_csrf(request, csrf_token)
    name = file.filename or "上传文件"
    content = await file.read(MAX_UPLOAD + 1)
    result: dict[str, Any] = {"filename": name, "errors": [], "definition": None}
    try:
        if len(content) > MAX_UPLOAD:
            raise DubanError("文件不能超过 1 MB")
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            raise DubanError("文件不是 UTF-8 编码的文本") from None
        result["definition"] = parse_source(text, name)
    except DubanError as exc:
        result["errors"] = exc.errors or [{"field": "", "message": exc.detail}]
    return render(request, "definitions.html", {
        "user": principal.user, "definitions": launchable_definitions(session), "shown": None,
        "result": result,
    }, status_code=200 if not result["errors"] else 422)
