"""The channels page: everyone sets their phone, channels and quiet hours; administrators add and switch the
group robots of townships and offices (webhooks and secrets shown masked)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session, col, select

from api.deps import ClockDep, PageAdmin, PagePrincipal, SessionDep
from api.routes.web import HtmlErrorRoute, check_csrf, flash_redirect, render
from domain.channels import KIND_DEFAULTS, PERSONAL, ROBOTS
from domain.errors import DubanError
from domain.vocabulary import Channel
from models.channels import ChannelPrefsIn, RobotIn
from models.org import OrgUnit
from tasks import channels as tasks
from tasks.accounts import Principal

router = APIRouter(include_in_schema=False, route_class=HtmlErrorRoute)

KIND_LABELS = {"escalation": "逐级督办", "escalation_trigger": "督办提示", "returns_exceeded": "多次退回督办",
               "reminder": "催报提醒", "obligation_opened": "任务开始", "desk_notice": "交办事项通知", "daily_digest": "每日汇总"}


def _page(request: Request, session: Session, principal: Principal, *, form: dict[str, Any] | None = None,
          errors: dict[str, str] | None = None, message: str | None = None, status_code: int = 200) -> HTMLResponse:
    admin = principal.user.role == "admin"
    units = session.exec(select(OrgUnit).where(col(OrgUnit.kind).in_(tasks.ROBOT_UNITS)).order_by(col(OrgUnit.code))).all() if admin else []
    defaults = [(KIND_LABELS.get(k, k), "、".join(Channel.label_of(c) if c != "robot" else "所在单位群机器人" for c in sorted(v)))
                for k, v in KIND_DEFAULTS.items()]
    return render(request, "channels.html", {
        "user": principal.user, "prefs": tasks.my_channels(session, principal), "personal": sorted(PERSONAL),
        "robots": tasks.list_robots(session, principal) if admin else [], "robot_channels": sorted(ROBOTS),
        "units": units, "defaults": defaults, "labels": Channel.labels(), "form": form or {}, "errors": errors or {},
        "message": message,
    }, status_code=status_code)


@router.get("/channels", response_class=HTMLResponse, response_model=None)
def channels_page(request: Request, session: SessionDep, principal: PagePrincipal) -> HTMLResponse:
    return _page(request, session, principal)


def _errors(exc: DubanError) -> dict[str, str]:
    return {str(e.get("field", "")): str(e.get("message", "")) for e in exc.errors}


def _time(value: str, fallback: dt.time) -> dt.time:
    try:
        return dt.time.fromisoformat(value) if value else fallback
    except ValueError:
        return fallback


@router.post("/channels/me", response_model=None)
async def save_my_channels(request: Request, session: SessionDep, principal: PagePrincipal,
                           clock: ClockDep) -> HTMLResponse | RedirectResponse:
    sent = await request.form()
    check_csrf(request, str(sent.get("csrf_token", "")))
    chosen = [str(c) for c in sent.getlist("channels")]
    version = str(sent.get("version", ""))
    data = ChannelPrefsIn(phone=str(sent.get("phone", "")).strip() or None,
                          channels=None if sent.get("use_defaults") == "on" else chosen,
                          quiet_start=_time(str(sent.get("quiet_start", "")), dt.time(22, 0)),
                          quiet_end=_time(str(sent.get("quiet_end", "")), dt.time(7, 0)),
                          version=int(version) if version.isdigit() else None)
    try:
        tasks.save_my_channels(session, principal, data, clock.now())
        session.commit()
    except DubanError as exc:
        session.rollback()
        return _page(request, session, principal, errors=_errors(exc), message=exc.detail, status_code=exc.status)
    return flash_redirect("/channels", "已保存您的接收设置")


@router.post("/admin/channels/robots", response_model=None)
async def save_robot(request: Request, session: SessionDep, principal: PageAdmin,
                     clock: ClockDep) -> HTMLResponse | RedirectResponse:
    sent = await request.form()
    check_csrf(request, str(sent.get("csrf_token", "")))
    form = {k: str(sent.get(k, "")).strip() for k in ("id", "org_unit_id", "channel", "name", "version")}
    try:
        data = RobotIn(org_unit_id=int(form["org_unit_id"]) if form["org_unit_id"].isdigit() else 0,
                       channel=form["channel"], name=form["name"], webhook=str(sent.get("webhook", "")).strip(),
                       secret=str(sent.get("secret", "")).strip() or None, active=sent.get("active") == "on",
                       version=int(form["version"]) if form["version"].isdigit() else None)
        robot = tasks.save_robot(session, principal, data, clock.now(), int(form["id"]) if form["id"].isdigit() else None)
        session.commit()
    except DubanError as exc:
        session.rollback()
        return _page(request, session, principal, form=form, errors=_errors(exc), message=exc.detail,
                     status_code=exc.status)
    return flash_redirect("/channels", f"已保存群机器人“{robot.name}”")
