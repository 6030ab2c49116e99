"""A clerk's day in headless Chromium, at desktop width and at 390 px (a phone): the county administrator launches
青石镇's rectification late in the year with a catch-up for the missed list and reads the campaign page, the
township liaison finds the quarterly report in the to-do list, fills it in and submits it, the township secretary
approves it from the review queue. Every page says which township, village and period it is about; screenshots
of each step are kept under test-artifacts/screenshots/ (issue 17, done means)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from core.clock import CHINA_TZ, FakeClock
from tasks.accounts import DEMO_PASSWORD

TODAY = dt.datetime(2025, 12, 10, 9, 0, tzinfo=CHINA_TZ)  # the list was due 10 October; the Q4 report is due 19 December
REPORT = "2025年第四季度"
TITLE = "后进薄弱村党组织建设季度报告"
SIZES = {"desktop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}


class Day:
    def __init__(self, page: Page, base: str, size: str, screenshots: Path) -> None:
        self.page, self.base, self.size, self.screenshots = page, base, size, screenshots

    def sign_in(self, username: str) -> None:
        self.page.context.clear_cookies()
        self.page.goto(f"{self.base}/login")
        self.page.get_by_label("用户名").fill(username)
        self.page.get_by_label("密码").fill(DEMO_PASSWORD)
        self.page.get_by_role("button", name="登录").click()
        self.page.wait_for_load_state()

    def shot(self, role: str, name: str, *, fits: bool = False) -> None:
        self.page.screenshot(path=str(self.screenshots / f"day-{self.size}-{role}-{name}.png"), full_page=True)
        if fits and self.size == "phone":
            width = self.page.evaluate("document.documentElement.scrollWidth")
            assert width <= SIZES["phone"]["width"], f"{role} {name}: {width} px wide on a phone"


def _administrator(day: Day) -> str:
    page = day.page
    day.sign_in("admin")
    page.goto(f"{day.base}/admin/launch")
    page.get_by_label("督办定义").select_option("weak_village_rectification")
    page.get_by_label("年度").fill("2025")
    page.get_by_label("青石镇").check()
    page.get_by_role("radio", name="限期补报").check()
    page.get_by_role("button", name="预览阶段和截止日期").click()
    expect(page.locator("body")).to_contain_text("限2025年12月24日前补报")
    day.shot("admin", "launch-preview")
    page.get_by_role("button", name="确认启动").click()
    expect(page.locator(".flash")).to_contain_text("1项限2025年12月24日前补报")
    campaign_url = page.url
    assert re.search(r"/campaigns/\d+$", campaign_url)
    expect(page.locator("svg.timeline")).to_contain_text("今天")
    expect(page.locator("#stage-screening")).to_contain_text("上报相对后进薄弱村党组织名单")
    day.shot("admin", "campaign", fits=True)
    page.goto(f"{day.base}/dashboard")
    expect(page.locator("h1")).to_be_visible()
    day.shot("admin", "dashboard")
    return campaign_url


def _liaison(day: Day, campaign_url: str) -> None:
    page = day.page
    day.sign_in("qx01-liaison")
    page.goto(f"{day.base}/todos")
    expect(page.locator("body")).to_contain_text(f"青石镇 {REPORT} {TITLE}")
    day.shot("liaison", "todos", fits=True)
    page.locator("tr", has_text=REPORT).filter(has_text=TITLE).get_by_role("link", name="修改").click()
    expect(page.locator("h1")).to_contain_text(f"填报：青石镇 {REPORT} {TITLE}")
    page.get_by_label("基本情况").fill("青石镇确定后进薄弱村2个，均已落实挂钩帮扶单位和县级联系领导。")
    page.get_by_label("取得的成效").fill("完成村党组织班子调整1个，新发展党员2名。")
    page.get_by_label("存在的主要问题").fill("前何庄村集体经济收入不足5万元，党员老龄化。")
    page.get_by_label("下步打算").fill("下季度完成村级活动场所改造，培养入党积极分子3名。")
    day.shot("liaison", "form", fits=True)
    page.get_by_role("button", name="提交审核").click()
    expect(page.locator(".flash")).to_contain_text("已提交审核")
    day.shot("liaison", "submission", fits=True)
    page.goto(campaign_url)
    expect(page.locator(".deadlines")).to_contain_text("审核中")
    day.shot("liaison", "campaign", fits=True)


def _secretary(day: Day) -> None:
    page = day.page
    day.sign_in("qx01-secretary")
    page.goto(f"{day.base}/reviews")
    expect(page.locator("body")).to_contain_text(REPORT)
    day.shot("secretary", "review-queue", fits=True)
    page.get_by_role("link", name=TITLE).first.click()
    expect(page.locator("h1")).to_contain_text(f"青石镇 {REPORT} {TITLE}")
    day.shot("secretary", "submission", fits=True)
    page.get_by_role("button", name="审核通过").click()
    expect(page.locator(".flash")).to_contain_text("已审核通过")
    day.shot("secretary", "approved", fits=True)


@pytest.mark.parametrize("size", sorted(SIZES))
def test_a_clerks_day_for_the_three_roles(size: str, chromium: str, live_server: str, clock: FakeClock,
                                          screenshots: Path) -> None:
    clock.set(TODAY)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        context = browser.new_context(viewport=SIZES[size], locale="zh-CN", is_mobile=size == "phone")  # type: ignore[arg-type]
        page = context.new_page()
        page.set_default_timeout(30_000)
        day = Day(page, live_server, size, screenshots)
        campaign_url = _administrator(day)
        _liaison(day, campaign_url)
        _secretary(day)
        browser.close()
    assert len(list(screenshots.glob(f"day-{size}-*.png"))) >= 10
