"""/docs and /redoc on an intranet: with every request beyond the server cut, Chromium renders the API's
documentation from duban's own bundles and asks no other host for anything (issue 17 item 8)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Route, expect, sync_playwright


def test_the_api_docs_render_with_the_network_cut(chromium: str, live_server: str, screenshots: Path) -> None:
    outside: list[str] = []

    def cut(route: Route) -> None:
        if route.request.url.startswith(live_server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort("internetdisconnected")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        context = browser.new_context(locale="zh-CN")
        context.route("**/*", cut)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{live_server}/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("督办 duban", timeout=30_000)
        expect(page.locator(".opblock-tag-section").first).to_be_visible()
        page.screenshot(path=str(screenshots / "docs-offline.png"))
        page.goto(f"{live_server}/redoc")
        expect(page.locator("h1").first).to_contain_text("督办 duban", timeout=30_000)
        page.screenshot(path=str(screenshots / "redoc-offline.png"))
        browser.close()
    assert outside == [], f"the docs asked other hosts: {outside}"
