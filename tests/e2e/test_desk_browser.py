"""The 督办台 in the browser at desktop and phone width: the office assigns an item to two townships, a township
signs for it on a phone, the lights show and filter, and no page is wider than the phone's screen."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from core.clock import CHINA_TZ, FakeClock
from tasks.accounts import DEMO_PASSWORD

TODAY = dt.datetime(2025, 3, 3, 9, 0, tzinfo=CHINA_TZ)
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 768}


def _sign_in(page: Page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()


def _fits(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_the_desk_at_desktop_and_phone_width(chromium: str, live_server: str, clock: FakeClock,
                                             screenshots: Path) -> None:
    clock.set(TODAY)
    base = live_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        desktop = browser.new_context(viewport=DESKTOP, locale="zh-CN").new_page()
        desktop.set_default_timeout(30_000)
        _sign_in(desktop, base, "admin")
        desktop.get_by_role("link", name="督办台").first.click()
        expect(desktop.locator("h1")).to_contain_text("督办台")
        desktop.locator("summary", has_text="新建交办事项").click()
        desktop.get_by_label("事项名称").fill("清理村级组织挂牌")
        desktop.get_by_label("办理要求").fill("按照县委主要领导批示，全面清理村级组织牌子")
        desktop.get_by_label("办理期限（日期）").fill("2025-03-05")
        desktop.get_by_label("青石镇").check()
        desktop.get_by_label("柳河乡").check()
        desktop.get_by_role("button", name="交办", exact=True).click()
        expect(desktop.locator(".flash")).to_contain_text("已交办“清理村级组织挂牌”")
        expect(desktop.locator("table").first).to_contain_text("未签收")
        expect(desktop.locator(".light-yellow").first).to_be_visible()  # due in two working days
        desktop.screenshot(path=str(screenshots / "desk-desktop.png"), full_page=True)
        desktop.goto(f"{base}/desk?light=red")
        expect(desktop.locator("body")).to_contain_text("没有符合条件的交办事项")

        phone = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True).new_page()
        phone.set_default_timeout(30_000)
        _sign_in(phone, base, "qx01-liaison")
        phone.goto(f"{base}/desk")
        assert _fits(phone), "the desk is wider than a phone"
        phone.get_by_role("button", name="签收").click()
        expect(phone.locator(".flash")).to_contain_text("已签收")
        expect(phone.locator("table").first).not_to_contain_text("未签收")
        assert _fits(phone)
        phone.screenshot(path=str(screenshots / "desk-phone.png"), full_page=True)
        _sign_in(phone, base, "admin")
        phone.goto(f"{base}/desk")
        assert _fits(phone), "the office's desk is wider than a phone"
        browser.close()
