"""Channels: the group robots of townships and offices (administrators), and each user's own phone, channels
and quiet hours. Webhooks and secrets are accepted, never shown back in full."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.deps import ClockDep, CurrentPrincipal, SessionDep
from api.routes.problems import READ, WRITE
from api.types import CleanStr
from models.channels import ChannelPrefsIn, RobotIn, robot_public
from tasks import channels as tasks

router = APIRouter(prefix="/api/v1/channels", tags=["channels"], responses=READ)


class RobotSave(RobotIn):
    id: int | None = None  # an existing robot's id (with its version) to change it


@router.get("/robots", summary="The group robots (webhooks masked)")
def list_robots(session: SessionDep, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    return tasks.list_robots(session, principal)


@router.post("/robots", summary="Add a group robot, or change one (id and version)", responses=WRITE)
def save_robot(body: RobotSave, session: SessionDep, principal: CurrentPrincipal, clock: ClockDep) -> dict[str, Any]:
    robot = tasks.save_robot(session, principal, body, clock.now(), body.id)
    session.commit()
    return robot_public(robot)


@router.get("/me", summary="My phone, channels and quiet hours")
def my_channels(session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return tasks.my_channels(session, principal)


@router.put("/me", summary="Set my phone, channels and quiet hours (a change needs the version)", responses=WRITE)
def save_my_channels(body: ChannelPrefsIn, session: SessionDep, principal: CurrentPrincipal,
                     clock: ClockDep) -> dict[str, Any]:
    result = tasks.save_my_channels(session, principal, body, clock.now())
    session.commit()
    return result


Username = Annotated[CleanStr, Path(max_length=64, description="the account's username")]


@router.get("/users/{username}", summary="A user's phone, channels and quiet hours (administrators)")
def user_channels(username: Username, session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    return tasks.user_channels(session, principal, username)


@router.put("/users/{username}", responses=WRITE,
            summary="Set a user's phone, channels and quiet hours (administrators; a change needs the version)")
def save_user_channels(username: Username, body: ChannelPrefsIn, session: SessionDep, principal: CurrentPrincipal,
                       clock: ClockDep) -> dict[str, Any]:
    result = tasks.save_user_channels(session, principal, username, body, clock.now())
    session.commit()
    return result
