"""A quarter's report through the browser: the administrator launches the campaign for one township
(preview, then confirm), the township fills in and submits its Q4 quarterly report, the township
Party committee returns it with a comment, the township revises and resubmits, both review levels
approve, and the dashboard counts it as on time. Screenshots of the main pages are kept."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from core.clock import CHINA_TZ, FakeClock
from tasks.accounts import DEMO_PASSWORD

TODAY = dt.datetime(2025, 12, 10, 9, 0, tzinfo=CHINA_TZ)  # the Q4 report window is open, due 19 Dec


def test_quarterly_report_through_the_browser(chromium: str, live_server: str, clock: FakeClock, screenshots: Path) -> None:
    clock.set(TODAY)
    base = live_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(30_000)

        def sign_in(username: str, shot: str | None = None) -> None:
            context.clear_cookies()
            page.goto(f"{base}/login")
            if shot:
                page.screenshot(path=str(screenshots / shot), full_page=True)
            page.get_by_label("用户名").fill(username)
            page.get_by_label("密码").fill(DEMO_PASSWORD)
            page.get_by_role("button", name="登录").click()
            page.wait_for_load_state()

        def open_edit_form() -> None:
            page.goto(f"{base}/todos")
            row = page.locator("tr", has_text="后进薄弱村党组织建设季度报告").filter(has_text="2025年第四季度")
            row.get_by_role("link", name="修改").click()
            expect(page.locator("h1")).to_contain_text("填报：青石镇 2025年第四季度 后进薄弱村党组织建设季度报告")

        def decide(username: str, decision: str, comment: str = "") -> None:
            sign_in(username)
            page.goto(f"{base}/reviews")
            if decision == "退回修改":
                page.screenshot(path=str(screenshots / "review-queue.png"), full_page=True)
            page.get_by_role("link", name="后进薄弱村党组织建设季度报告").click()
            if comment:
                page.get_by_label("审核意见").fill(comment)
            page.get_by_role("button", name=decision).click()
            expect(page.locator(".flash")).to_contain_text({"退回修改": "已退回修改", "审核通过": "已审核通过"}[decision])

        # 1. The administrator launches 青石镇's campaign: preview first, then confirm.
        sign_in("admin", shot="login.png")
        page.get_by_role("link", name="启动督办").click()
        page.get_by_label("督办定义").select_option("weak_village_rectification")
        page.get_by_label("年度").fill("2025")
        page.get_by_label("青石镇").check()
        page.get_by_role("button", name="预览阶段和截止日期").click()
        expect(page.locator("h2").first).to_contain_text("预览：2025年")
        expect(page.locator("body")).to_contain_text("2025年12月19日")
        page.screenshot(path=str(screenshots / "launch-preview.png"), full_page=True)
        page.get_by_role("button", name="确认启动").click()
        expect(page.locator(".flash")).to_contain_text("已启动 2025年")
        assert re.search(r"/campaigns/\d+$", page.url)

        # 2. The township's liaison fills in the quarterly report and submits it.
        sign_in("qx01-liaison")
        page.goto(f"{base}/todos")
        expect(page.locator("body")).to_contain_text("还剩9天")
        page.screenshot(path=str(screenshots / "todos.png"), full_page=True)
        open_edit_form()
        page.get_by_label("基本情况").fill("青石镇确定后进薄弱村2个，均已落实挂钩帮扶单位。")
        page.get_by_label("取得的成效").fill("完成班子调整1个。")
        page.get_by_label("存在的主要问题").fill("个别村集体经济薄弱。")
        page.get_by_label("下步打算").fill("下季度完成村级活动场所改造。")
        page.screenshot(path=str(screenshots / "form.png"), full_page=True)
        page.get_by_role("button", name="提交审核").click()
        expect(page.locator(".flash")).to_contain_text("已提交审核")

        # 3. The township Party committee returns it with a comment.
        decide("qx01-secretary", "退回修改", "取得的成效请用数据说明")

        # 4. The liaison sees the comment, revises and resubmits.
        sign_in("qx01-liaison")
        open_edit_form()
        expect(page.locator(".callout")).to_contain_text("取得的成效请用数据说明")
        page.get_by_label("取得的成效").fill("完成班子调整1个，新发展党员2名，村集体经济增收3万元。")
        page.get_by_role("button", name="提交审核").click()
        expect(page.locator(".flash")).to_contain_text("已提交审核")

        # 5. Both levels approve; the county reviewer sees what changed since the return.
        decide("qx01-secretary", "审核通过")
        sign_in("county-reviewer")
        page.goto(f"{base}/reviews")
        page.get_by_role("link", name="后进薄弱村党组织建设季度报告").click()
        expect(page.locator("table.diff")).to_contain_text("村集体经济增收3万元")
        page.get_by_role("button", name="审核通过").click()
        expect(page.locator(".flash")).to_contain_text("已审核通过")
        expect(page.locator("p").filter(has_text="状态：")).to_contain_text("已通过")
        page.screenshot(path=str(screenshots / "submission.png"), full_page=True)

        # 6. The dashboard counts 青石镇's report as on time.
        sign_in("admin")
        page.get_by_role("link", name="看板").click()
        row = page.locator("table.grid").first.locator("tr", has_text="青石镇")  # the first grid: deadlines by township
        expect(row).to_contain_text("100%（1/1）")
        expect(page.locator("svg.chart").first).to_be_visible()
        page.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)
        browser.close()

    for name in ("login", "launch-preview", "todos", "form", "review-queue", "submission", "dashboard"):
        assert (screenshots / f"{name}.png").stat().st_size > 2_000, name
