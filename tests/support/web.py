"""The web UI as a browser uses it: signing in through the login form, the CSRF token and the version a page's
forms carry, and the application's route table."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import routing
from fastapi.routing import APIRoute

from tasks.accounts import DEMO_PASSWORD

HTML = {"Accept": "text/html,application/xhtml+xml"}


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page carries no CSRF token"
    return match.group(1)


def version_of(html: str) -> str:
    """The version of the object a page's form changes."""
    match = re.search(r'name="version" value="(\d+)"', html)
    assert match, "the page's form carries no version"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, username: str, page: str = "/") -> str:
    """Sign in through the login form, which redirects to ``page``; the session cookie stays in the client's
    jar. Returns the session's CSRF token (from ``page``)."""
    client.cookies.clear()
    r = await client.post("/login", data={"username": username, "password": DEMO_PASSWORD, "next": page})
    assert r.status_code == 303 and r.headers["location"] == page, r.text
    shown = await client.get(page, headers=HTML)
    assert shown.status_code == 200, shown.text
    return csrf_of(shown.text)


@dataclass
class WebUser:
    """A browser signed in as ``username``: its session cookie and the CSRF token of its pages."""

    username: str
    cookie: str
    csrf: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": f"duban_session={self.cookie}", "Accept": "text/html"}


async def page_text(client: httpx.AsyncClient, path: str, **params: Any) -> str:
    """The HTML of the page at ``path`` for the signed-in browser of ``client`` (it must answer 200)."""
    page = await client.get(path, params=params, headers=HTML)
    assert page.status_code == 200, page.text
    return page.text


async def web_sign_in(client: httpx.AsyncClient, username: str) -> WebUser:
    """Sign in through the login form and keep the session apart: the client's jar is left empty, so that
    every request names the cookie it sends (``WebUser.headers``)."""
    client.cookies.clear()
    response = await client.post("/login", data={"username": username, "password": DEMO_PASSWORD, "next": "/"})
    assert response.status_code == 303, response.text
    cookie = next(h.partition("=")[2].partition(";")[0] for h in response.headers.get_list("set-cookie")
                  if h.startswith("duban_session="))
    client.cookies.clear()
    home = await client.get("/", headers={"Cookie": f"duban_session={cookie}"})
    assert home.status_code == 200, home.text
    return WebUser(username, cookie, csrf_of(home.text))


def app_routes() -> list[tuple[str, str, str]]:
    """(method, path, endpoint name) of every FastAPI route of the application, included routers too."""
    from api.app import create_app

    app = create_app()
    contexts = routing.iter_route_contexts(app.routes) if hasattr(routing, "iter_route_contexts") else app.routes
    found = []
    for route in contexts:
        original = getattr(route, "original_route", route)
        path, methods = getattr(route, "path", ""), getattr(route, "methods", None)
        if isinstance(original, APIRoute) and path:
            found += [(method, path, original.name) for method in sorted(methods or ())]
    assert found, "the route walk found nothing"
    return sorted(found)
