"""The county dashboard: townships × stages, on-time submission rates, open escalations and progress
toward the rectification targets, with server-rendered SVG charts. Read-only; the figures come from
``tasks.reads.dashboard``, scoped like the API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.deps import ClockDep, PagePrincipal, ReadSessionDep
from api.routes.web import HtmlErrorRoute, render
from api.types import CleanStr
from core.clock import local_today
from domain.vocabulary import RectificationStatus
from tasks.reads import dashboard as reads
from tasks.reads import desk as desk_reads

router = APIRouter(include_in_schema=False, route_class=HtmlErrorRoute)

RECTIFICATION_LABELS = RectificationStatus.labels()


def _bars(rows: Sequence[tuple[str, float, str]], width: int = 560, unit: str = "%", maximum: float = 100.0) -> dict[str, Any]:
    """Geometry of a horizontal bar chart (label, value, caption) for the SVG template."""
    bar_h, gap, label_w = 22, 8, 120
    scale = (width - label_w - 120) / maximum if maximum else 0
    bars = [{"label": label, "value": value, "caption": caption, "y": i * (bar_h + gap), "w": max(0.0, value * scale),
             "x": label_w, "h": bar_h} for i, (label, value, caption) in enumerate(rows)]
    return {"bars": bars, "width": width, "height": max(1, len(rows)) * (bar_h + gap), "label_w": label_w, "unit": unit}


def _charts(rows: list[dict[str, Any]], quarter_rows: list[tuple[str, float, str]]) -> dict[str, Any]:
    """On-time rates per township and per quarter, and the rectified villages by status."""
    rect_total = sum(r["rectification_total"] for r in rows)
    rect_chart = _bars([(RECTIFICATION_LABELS[s], float(sum(r["rectifications"][s] for r in rows)),
                         str(sum(r["rectifications"][s] for r in rows))) for s in RECTIFICATION_LABELS],
                       unit="个", maximum=float(rect_total or 1)) if rect_total else None
    return {
        "township_chart": _bars([(r["township"].name, r["rate"] or 0, f"{r['on_time']}/{r['due']}") for r in rows if r["due"]]),
        "quarter_chart": _bars(quarter_rows), "rect_chart": rect_chart, "rect_total": rect_total,
        "rect_labels": RECTIFICATION_LABELS,
    }


@router.get("/dashboard", response_class=HTMLResponse, response_model=None)
def dashboard(request: Request, session: ReadSessionDep, principal: PagePrincipal, clock: ClockDep,
              definition: CleanStr = "", year: Annotated[int | None, Query(ge=1900, le=2200)] = None,
              pick: CleanStr = "") -> HTMLResponse:
    picked_key, _, picked_year = pick.partition("|")
    # Four ASCII digits: "²" passes isdigit() but not int(), and a huge number cannot reach the database.
    if picked_key and len(picked_year) == 4 and picked_year.isascii() and picked_year.isdigit():
        definition, year = picked_key, int(picked_year)
    view = reads.dashboard(session, principal, local_today(clock), definition=definition, year=year)
    desk = desk_reads.light_counts(session, principal, local_today(clock))  # the 督办 desk's lights
    return render(request, "dashboard.html", {"user": principal.user, **view, **_charts(view["rows"], view["quarter_rows"]),
                                              "desk_lights": desk})
