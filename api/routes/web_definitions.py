"""The page of one campaign definition (administrators): its diagram, its versions and what changed between two,
a YAML editor that previews a draft (timeline, deadlines, dry run) and publishes it, and the move of running
campaigns to a newer version (preview per campaign, then apply). Every action goes through the same task
functions as ``/api/v1/definitions`` and ``duban definitions``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup
from sqlmodel import Session

from api.deps import ClockDep, PageAdmin, SessionDep
from api.routes.web import HtmlErrorRoute, check_csrf, flash_redirect, render
from core.clock import china_date
from domain.definition_diagram import definition_diagram
from domain.errors import DubanError, NotFound
from tasks import definitions as service
from tasks import migration
from tasks.accounts import Principal
from tasks.definition_preview import PROFILES, Preview, preview_draft
from tasks.reads import org_units as org_unit_reads
from tasks.registry import get_definition, is_retired, refresh

router = APIRouter(include_in_schema=False, route_class=HtmlErrorRoute)

MAX_SOURCE = 1_000_000
SECTION_WORDS = {"added": "新增", "changed": "修改", "removed": "删除"}


def _diff(session: Session, clock: ClockDep, key: str, newest: int, old: int | None,
          new: int | None) -> dict[str, Any] | None:
    if newest < 2 and not (old and new):
        return None
    new = new if new and new <= newest else newest
    old = old if old and old <= newest else max(new - 1, 1)
    return {"from": old, "to": new, "sections": [asdict(s) for s in service.diff(session, clock.now(), key, old, new)]}


def _page(request: Request, session: Session, principal: Principal, clock: ClockDep, key: str, *,
          diff_from: int | None = None, diff_to: int | None = None, draft: dict[str, Any] | None = None,
          errors: list[dict[str, Any]] | None = None, preview: Preview | None = None,
          migrations: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    refresh(session)
    definition = get_definition(key)  # an unknown key: 404
    versions = service.versions(session, clock.now(), key)
    newest = versions[-1]["version"]
    source = service.source_of(session, clock.now(), key, newest)
    draft = {"source": source, "note": "", "year": china_date(clock.now()).year, "township": "", "profile": "late",
             "simulate": True} | (draft or {})
    lines = str(draft["source"]).splitlines()
    problems = errors or []
    return render(request, "definition.html", {
        "user": principal.user, "d": definition, "retired": is_retired(key), "versions": versions,
        "diagram": Markup(definition_diagram(definition)),  # noqa: S704 - built from escaped text (domain.definition_diagram)
        "diff": _diff(session, clock, key, newest, diff_from, diff_to), "section_words": SECTION_WORDS,
        "draft": draft, "draft_lines": lines, "errors": problems,
        "errors_by_line": _by_line(problems), "preview": preview, "profiles": PROFILES,
        "townships": org_unit_reads.townships(session, principal), "migrations": migrations,
    }, status_code=status_code)


def _by_line(errors: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for e in errors:
        if e.get("line"):
            out.setdefault(int(e["line"]), []).append(e)
    return out


@router.get("/admin/definitions/{key}", response_class=HTMLResponse, response_model=None)
def definition_page(key: str, request: Request, session: SessionDep, principal: PageAdmin,
                    clock: ClockDep) -> HTMLResponse:
    """The definition, its versions (``?from=&to=``: the two compared), the editor and the migration form."""
    params = request.query_params
    return _page(request, session, principal, clock, key, diff_from=_number(params.get("from")),
                 diff_to=_number(params.get("to")))


def _number(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and len(text) < 9 else None


def _refused(exc: DubanError) -> list[dict[str, Any]]:
    return exc.errors or [{"field": "", "message": exc.detail}]


@router.post("/admin/definitions/{key}/publish", response_model=None)
def publish_form(
    key: str, request: Request, session: SessionDep, principal: PageAdmin, clock: ClockDep,
    source: Annotated[str, Form(max_length=MAX_SOURCE)] = "", note: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> HTMLResponse | RedirectResponse:
    """Publish the YAML as the next version (``tasks.definitions.publish``); errors at their lines (422)."""
    check_csrf(request, csrf_token)
    get_definition(key)
    try:
        row = service.publish(session, principal, clock.now(), key, source, note)
        session.commit()
    except DubanError as exc:
        session.rollback()
        if exc.status == 404:
            raise
        return _page(request, session, principal, clock, key, draft={"source": source, "note": note},
                     errors=_refused(exc), status_code=exc.status)
    return flash_redirect(f"/admin/definitions/{key}", f"已发布第{row.version}版：{row.note}")


@router.post("/admin/definitions/{key}/preview", response_class=HTMLResponse, response_model=None)
def preview_form(
    key: str, request: Request, session: SessionDep, principal: PageAdmin, clock: ClockDep,
    source: Annotated[str, Form(max_length=MAX_SOURCE)] = "", note: Annotated[str, Form(max_length=500)] = "",
    year: Annotated[str, Form(max_length=8)] = "", township: Annotated[str, Form(max_length=32)] = "",
    profile: Annotated[str, Form(max_length=16)] = "late", simulate: Annotated[str, Form(max_length=8)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> HTMLResponse:
    """The draft on the calendar and its dry run (``tasks.definition_preview``); nothing is stored."""
    check_csrf(request, csrf_token)
    draft = {"source": source, "note": note, "year": year, "township": township, "profile": profile,
             "simulate": simulate == "on"}
    number = _number(year)
    try:
        if number is None:
            raise DubanError("请填写年度，例如 2027", errors=[{"field": "year", "message": "请填写年度，例如 2027"}],
                             status=422)
        preview = preview_draft(session, principal, clock.now(), source, number, township, simulate=simulate == "on",
                                profile=profile)
    except DubanError as exc:
        if isinstance(exc, NotFound) and exc.extra.get("field") != "township":
            raise
        return _page(request, session, principal, clock, key, draft=draft, errors=_refused(exc),
                     status_code=422 if exc.status == 404 else exc.status)
    return _page(request, session, principal, clock, key, draft=draft, preview=preview)


@router.post("/admin/definitions/{key}/migrate", response_class=HTMLResponse, response_model=None)
async def migrate_form(key: str, request: Request, session: SessionDep, principal: PageAdmin,
                       clock: ClockDep) -> HTMLResponse:
    """Preview (or, with ``apply``, carry out) the move of the chosen campaigns (``tasks.migration.migrate``)."""
    sent = await request.form()
    check_csrf(request, str(sent.get("csrf_token", "")))
    get_definition(key)
    to_version, year = _number(str(sent.get("to_version", ""))), _number(str(sent.get("year", "")))
    townships = [str(t) for t in sent.getlist("townships") if str(t)][:1000] or None
    apply = sent.get("apply") == "1"
    chosen = {"to_version": to_version, "year": year, "townships": townships or [], "apply": apply}
    try:
        if to_version is None:
            raise DubanError("请选择要迁移到的版本", status=422)
        if year is None and str(sent.get("year", "")).strip():
            raise DubanError("年度请填写数字，例如 2027；不填为全部年度", status=422)
        results = migration.migrate(session, principal, clock.now(), key, to_version, townships=townships, year=year,
                                    apply=apply)
    except DubanError as exc:
        session.rollback()
        return _page(request, session, principal, clock, key, migrations=chosen | {"error": exc.detail},
                     status_code=exc.status if exc.status != 404 else 422)
    lines = [{"m": m, "line": migration.describe(m)} for m in results]
    return _page(request, session, principal, clock, key, migrations=chosen | {"results": lines})
