"""A township liaison on a phone (390 px wide): the to-do list, the report form and the submission page fit the
screen (nothing wider than it, the to-dos as cards naming township, period and due date). Screenshots kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from core.clock import CHINA_TZ, FakeClock
from core.db import get_engine
from tasks.accounts import DEMO_PASSWORD
from tasks.launch import launch_one

TODAY = dt.datetime(2025, 12, 10, 9, 0, tzinfo=CHINA_TZ)
WIDTH = 390


def test_the_liaisons_pages_fit_a_phone(chromium: str, live_server: str, clock: FakeClock, screenshots: Path) -> None:
    clock.set(TODAY)
    assert launch_one(get_engine(), "weak_village_rectification", "QX01", 2025, TODAY).status == "created"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": WIDTH, "height": 844}, locale="zh-CN", is_mobile=True).new_page()
        page.set_default_timeout(30_000)

        def fits(shot: str) -> None:
            page.screenshot(path=str(screenshots / f"phone-{shot}.png"), full_page=True)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= WIDTH, f"{shot}: the page is {width} px wide on a {WIDTH} px screen"

        page.goto(f"{live_server}/login")
        page.get_by_label("用户名").fill("qx01-liaison")
        page.get_by_label("密码").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.goto(f"{live_server}/todos")
        expect(page.locator("table.cards")).to_contain_text("青石镇 2025年第四季度 后进薄弱村党组织建设季度报告")
        fits("todos")
        page.locator("tr", has_text="2025年第四季度").get_by_role("link", name="修改").click()
        expect(page.locator("h1")).to_contain_text("填报：青石镇 2025年第四季度")
        fits("form")
        page.get_by_label("基本情况").fill("前何庄村、老陈山村由镇党委班子成员包村，第一书记每周驻村4天。")
        page.get_by_role("button", name="保存草稿").click()
        expect(page.locator("h1")).to_contain_text("青石镇 2025年第四季度 后进薄弱村党组织建设季度报告")
        fits("submission")
        browser.close()
