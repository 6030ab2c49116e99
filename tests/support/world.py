"""World builders: the demo county, campaigns launched for townships, who is signed in, and the launch flow's
body without Prefect for the API tests (the route, its checks and the writing of the campaign stay real)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.db import get_engine, session_scope
from flows.params import moment
from models import User
from tasks.accounts import DEMO_PASSWORD, principal_for
from tasks.launch import launch_many, launch_one
from tasks.prefect_tasks import audit_actor

WEAK_VILLAGES = "weak_village_rectification"
"""The campaign most scenes run: the rectification of weak and lax village Party organisations."""


def seed_demo_county(engine: Engine) -> Engine:
    """清溪县 with its townships, villages and demo accounts (all with the demo password)."""
    from tasks.demo import seed_demo

    with session_scope(engine) as session:
        seed_demo(session, dt.datetime(2024, 12, 1, tzinfo=dt.UTC), samples=False)
    return engine


def launch(engine: Engine, townships: Iterable[str], now: dt.datetime, *, year: int = 2025,
           definition: str = WEAK_VILLAGES) -> list[int]:
    """Launch ``definition`` of ``year`` for each township (through the task the launch flow runs); the ids
    of the new campaigns. Each must be new."""
    ids = []
    for code in townships:
        outcome = launch_one(engine, definition, code, year, now=now)
        assert outcome.created, outcome
        ids.append(outcome.campaign_id)
    return ids


def as_user(session: Session, username: str) -> Any:
    """The principal of the demo user ``username``, as the API would build it for a request."""
    return principal_for(session, session.exec(select(User).where(User.username == username)).one())


async def token_for(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    """The Authorization header of a fresh bearer token of the demo user ``username``."""
    response = await client.post("/api/v1/auth/token", json={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


Login = Callable[[httpx.AsyncClient, str], Awaitable[dict[str, str]]]
"""``await login(client, username)``: the Authorization header of a fresh token (the ``login`` fixture)."""


@dataclass
class SignedIn:
    """The demo users over ``client``, each with one bearer token, issued when first needed; ``tokens.clear()``
    once the virtual clock has moved past the 30 days a token lasts."""

    client: httpx.AsyncClient
    login: Login
    tokens: dict[str, dict[str, str]] = field(default_factory=dict, kw_only=True)

    async def as_(self, username: str) -> dict[str, str]:
        """The Authorization header of ``username``."""
        if username not in self.tokens:
            self.tokens[username] = await self.login(self.client, username)
        return self.tokens[username]

    __call__ = as_


async def launch_without_prefect(definition: str, township: str, year: int, now: dt.datetime | str | None = None,
                                 idempotency: tuple[str, str] | None = None, late: Any = None,
                                 by: tuple[int | None, str] | None = None) -> dict[str, Any]:
    """``flows.launch.launch_campaign`` without Prefect's orchestration, whose first start costs seconds."""
    outcome = await anyio.to_thread.run_sync(launch_one, get_engine(), definition, township, year, moment(now),
                                             idempotency, late, audit_actor(by))
    return {"campaign_id": outcome.campaign_id, "status": outcome.status, "detail": outcome.detail,
            "affected": outcome.affected}


async def launch_many_without_prefect(definition: str, year: int, townships: list[str] | None = None,
                                      now: dt.datetime | str | None = None, late: Any = None,
                                      by: tuple[int | None, str] | None = None, **_: Any) -> list[dict[str, Any]]:
    """``flows.launch.launch_for_townships`` without Prefect (every township when none are named)."""
    if townships is None:
        from tasks.launch import all_township_codes

        with Session(get_engine()) as session:
            townships = all_township_codes(session)
    return await anyio.to_thread.run_sync(launch_many, get_engine(), definition, townships, year, moment(now), late,
                                          audit_actor(by))


def judged_as_met(session: Session, submission_id: int, now: dt.datetime) -> dict[str, dict[str, Any]]:
    """Every check of the submission that waits for its reviewer's judgement now, judged met with a note: the
    ``checks`` of an approval by a reviewer who went through the checklist."""
    from models import Submission
    from simulation import met
    from tasks import gate_checks

    sub = session.get(Submission, submission_id)
    assert sub is not None
    return met(gate_checks.checklist(session, sub, now))
def approve_weak_village_list(engine: Engine, township: str, villages: list[str] | None, now: dt.datetime) -> int:
    """The township's liaison submits its weak-village list (``villages``, or else its key-contact villages;
    verified, the committee minutes attached) and the county approves it, through the service functions; the
    list's submission id."""
    from models import Campaign, Obligation, OrgUnit
    from tasks import review

    with session_scope(engine) as s:
        if villages is None:
            town = s.exec(select(OrgUnit).where(OrgUnit.code == township)).one()
            villages = list(s.exec(select(OrgUnit.code).where(OrgUnit.parent_id == town.id, OrgUnit.kind == "village",
                                                              OrgUnit.key_contact_class != None)))  # noqa: E711
        obligation = s.exec(select(Obligation).join(Campaign, Obligation.campaign_id == Campaign.id)  # type: ignore[arg-type]
                            .join(OrgUnit, Campaign.township_id == OrgUnit.id)  # type: ignore[arg-type]
                            .where(OrgUnit.code == township, Obligation.kind == "list")).one()
        liaison = as_user(s, f"{township.lower()}-liaison")
        sub = review.create_submission(s, liaison, now, obligation_id=obligation.id or 0, data={
            "villages": villages, "investigation": "逐村过筛子，召开座谈会核实问题。", "committee_meeting_date": "2025-09-24",
            "verified": True})
        minutes = review.add_attachment(s, liaison, now, sub.id or 0, filename="党委会议纪要.pdf",
                                        content_type="application/pdf", content=b"%PDF-1.4\n%%EOF\n")
        review.update_draft(s, liaison, now, sub.id or 0, sub.data | {"committee_minutes": [minutes.id]}, sub.version)
        review.submit_submission(s, liaison, now, sub.id or 0, sub.version)
        review.decide(s, as_user(s, "admin"), now, sub.id or 0, decision="approve", comment=None, version=sub.version,
                      checks=judged_as_met(s, sub.id or 0, now))
        return sub.id or 0
