"""The 督办 desk over HTTP as the demo users: assigning an item, signing, the 办结报告 through its review chain,
and the desk's escalations read back."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models import Escalation, OrgUnit
from tests.support.world import SignedIn

DESK = "/api/v1/desk"
CLOSING = {"done": "已逐村核查并建立台账，问题全部整改到位", "results": "完成整改问题12个，建立长效机制3项"}


async def assign(c: httpx.AsyncClient, users: SignedIn, townships: list[str], due_on: dt.date | None,
                 **extra: Any) -> dict[str, Any]:
    body = {"title": "清理村级组织挂牌", "source": "instruction", "document_number": "清组〔2025〕12号",
            "requirement": "按照县委主要领导批示，全面清理村级组织牌子，规范挂牌", "townships": townships,
            "due_on": due_on.isoformat() if due_on else None} | extra
    r = await c.post(f"{DESK}/items", json=body, headers=await users("admin"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def recipient(item: dict[str, Any], township: str) -> dict[str, Any]:
    return next(r for r in item["recipients"] if r["township"] == township)


async def item_now(c: httpx.AsyncClient, users: SignedIn, item_id: int) -> dict[str, Any]:
    r = await c.get(f"{DESK}/items/{item_id}", headers=await users("admin"))
    assert r.status_code == 200, r.text
    return dict(r.json())


async def close_report(c: httpx.AsyncClient, users: SignedIn, township: str, row: dict[str, Any]) -> dict[str, Any]:
    """The township's liaison submits the 办结报告, its secretary approves, the office closes it (办结销号)."""
    code = township.lower()
    r = await c.post("/api/v1/submissions", headers=await users(f"{code}-liaison"),
                     json={"obligation_id": row["obligation_id"], "data": CLOSING, "submit": True})
    assert r.status_code == 201, r.text
    sub = r.json()
    for who in (f"{code}-secretary", "admin"):
        r = await c.post(f"/api/v1/submissions/{sub['id']}/decisions", headers=await users(who),
                         json={"decision": "approve", "version": sub["version"]})
        assert r.status_code == 200, r.text
        sub = r.json()
    return dict(sub)


def desk_escalations(engine: Engine, township: str) -> list[tuple[str, int, str]]:
    """(trigger, level, level name) of the escalations of the desk's deadlines of ``township``."""
    with Session(engine) as s:
        town = s.exec(select(OrgUnit).where(OrgUnit.code == township)).one()
        rows = s.exec(select(Escalation).where(Escalation.township_id == town.id).order_by(col(Escalation.id))).all()
        return [(e.trigger, e.level, e.level_name or "") for e in rows]


async def desk_world(c: httpx.AsyncClient, users: SignedIn, ids: dict[str, int]) -> None:
    """QX02's desk objects for the route matrix (the clock at 10 Dec 2025): an item assigned to it, an extension
    request waiting for its secretary, and a draft bulletin of November; their ids under ``desk_*``."""
    item = await assign(c, users, ["QX02"], dt.date(2025, 12, 31))
    row = recipient(item, "QX02")
    r = await c.post(f"{DESK}/recipients/{row['recipient_id']}/extensions", headers=await users("qx02-liaison"),
                     json={"reason": "年底事务集中", "progress": "已完成一半", "proposed_on": "2026-01-09"})
    assert r.status_code == 201, r.text
    attached = await c.post(f"{DESK}/items/{item['id']}/attachment", headers=await users("admin"),
                            files={"file": ("批示.pdf", b"%PDF-1.4 source", "application/pdf")})
    assert attached.status_code == 200, attached.text
    b = await c.post(f"{DESK}/bulletins", headers=await users("admin"), json={"year": 2025, "month": 11})
    assert b.status_code == 201, b.text
    ids |= {"desk_item": item["id"], "desk_recipient": row["recipient_id"], "desk_extension": r.json()["id"],
            "desk_ack": row["ack_obligation_id"],
            "desk_bulletin": b.json()["id"]}
