"""Server-rendered pages (zh-CN)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import StrictUndefined
from sqlalchemy import func
from sqlmodel import select

from api.deps import SessionDep
from api.routes.campaigns import campaign_public
from core.settings import get_settings
from models import Campaign, OrgUnit
from tasks.registry import get_definitions

templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
templates.env.undefined = StrictUndefined

STATUS_LABELS = {
    "pending": "未开始", "open": "进行中", "in_review": "审核中", "passed": "已通过", "overdue": "已逾期",
    "waived": "不适用", "scheduled": "未开放", "submitted": "已提交", "met": "已完成", "late": "逾期完成",
    "missed": "未完成", "active": "进行中", "completed": "已完成", "cancelled": "已撤销",
}


def zh_date(value: dt.date | dt.datetime) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


templates.env.filters["zh_date"] = zh_date
templates.env.filters["status_label"] = lambda s: STATUS_LABELS.get(s, s)

router = APIRouter(include_in_schema=False)


def _render(request: Request, name: str, context: dict[str, Any]) -> HTMLResponse:
    context.setdefault("organisation", get_settings().organisation_name)
    return templates.TemplateResponse(request, name, context)


@router.get("/", response_class=HTMLResponse)
def index(request: Request, session: SessionDep) -> HTMLResponse:
    counts = dict(
        session.exec(select(OrgUnit.kind, func.count()).group_by(OrgUnit.kind)).all()  # type: ignore[arg-type]
    )
    rows = session.exec(
        select(Campaign, OrgUnit).join(OrgUnit, Campaign.township_id == OrgUnit.id)  # type: ignore[arg-type]
        .order_by(Campaign.id.desc()).limit(50)  # type: ignore[union-attr]
    ).all()
    definitions = get_definitions()
    return _render(request, "index.html", {
        "definitions": [definitions[k] for k in sorted(definitions)],
        "counts": counts,
        "campaigns": [
            {"campaign": c, "township": t, "definition_name": definitions[c.definition_key].name
             if c.definition_key in definitions else c.definition_key}
            for c, t in rows
        ],
    })


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(campaign_id: int, request: Request, session: SessionDep) -> HTMLResponse:
    return _render(request, "campaign.html", {"c": campaign_public(session, campaign_id)})
