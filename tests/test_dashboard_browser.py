"""The dashboard in a real Chromium (Playwright driving Debian's chromium, headless) against a real
`planwatch api` process and a worker, on the suite's Redis under a key prefix of this module's
own: sign in, the seed table's lights, an indicator chart, time travel, project filters, an alert
arriving live, the data-entry form (stored, and refused at the field), a signed link opened
without signing in, the screenshots — and no request ever leaves 127.0.0.1.

`make test` installs chromium where it is missing (.ci/chromium); these tests are never skipped."""

from __future__ import annotations

import asyncio
import html
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from services.app import App
from services.dashboard.browser import chromium, off_host, sign_in, take_screenshots
from services.demo import load_seed
from services.store import EventStore, Keyspace, connect
from tests.conftest import ROOT, drop_prefix, free_port, wait_until_healthy
from tests.factories import small_plan

PLAN = "rongchang-2025"
T = TypeVar("T")
REQUESTS: list[str] = []  # every request any page of this module made


class Server:
    def __init__(self, url: str, keys: Keyspace, redis_url: str, tokens: dict[str, str]) -> None:
        self.url, self.keys, self.redis_url, self.tokens = url, keys, redis_url, tokens

    def log_length(self) -> int:
        async def length() -> int:
            redis = connect(self.redis_url)
            try:
                return await EventStore(redis, self.keys).length(PLAN)
            finally:
                await redis.aclose()

        return outside_playwright(length())


def outside_playwright(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end on a thread of its own: Playwright's sync API holds this thread's loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


async def _prepare(redis_url: str, keys: Keyspace) -> dict[str, str]:
    redis = connect(redis_url)
    try:
        app = App(redis, keys)
        await load_seed(app.store)
        await app.plans.publish(small_plan("other-2025"))  # a second plan: the comparison page
        await app.rollups.produce(PLAN, "2025-06")
        admin, _ = await app.access.create_token("admin", None, "发改委")
        stats, _ = await app.access.create_token("department", "stats", "统计局", [PLAN, "other-2025"])  # its plans
        return {"admin": admin, "stats": stats}
    finally:
        await redis.aclose()


@pytest.fixture(scope="module")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    keys = Keyspace(prefix=f"t{uuid.uuid4().hex[:12]}")
    tokens = outside_playwright(_prepare(redis_url, keys))
    logs = tmp_path_factory.mktemp("browser")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PLANWATCH_REDIS_URL": redis_url, "PLANWATCH_KEY_PREFIX": keys.prefix}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "services", *args],
            env=env,
            cwd=ROOT,
            stdout=(logs / f"{name}.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        for name, args in (("api", ["api", "--port", str(port)]), ("worker", ["worker", "--lease-ttl", "1"]))
    ]
    wait_until_healthy(url, logs / "api.log")
    yield Server(url, keys, redis_url, tokens)
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)
    drop_prefix(redis_url, keys)
    for name in ("api", "worker"):
        assert "Traceback" not in (logs / f"{name}.log").read_text(), (logs / f"{name}.log").read_text()[-3000:]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def _page(browser: Browser) -> Page:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("request", lambda request: REQUESTS.append(request.url))
    return page


def _signed_in(browser: Browser, server: Server, who: str, then: str) -> Iterator[Page]:
    page = _page(browser)
    sign_in(page, server.url, server.tokens[who], then)
    yield page
    page.context.close()


@pytest.fixture
def admin(browser: Browser, server: Server) -> Iterator[Page]:
    """The plan office, on the plan's overview."""
    yield from _signed_in(browser, server, "admin", f"/plans/{PLAN}")


@pytest.fixture
def stats(browser: Browser, server: Server) -> Iterator[Page]:
    """区统计局, on its data-entry form for July."""
    yield from _signed_in(browser, server, "stats", f"/plans/{PLAN}/entry?month=2025-07")


def _lights(page: Page) -> dict[str, str]:
    rows = page.locator("tr[data-indicator]")
    return {
        rows.nth(i).get_attribute("data-indicator") or "": rows.nth(i).get_attribute("data-light") or ""
        for i in range(rows.count())
    }


def test_signing_in_shows_the_seed_table_with_its_lights(admin: Page, server: Server) -> None:
    expect(admin).to_have_url(f"{server.url}/plans/{PLAN}")
    lights = _lights(admin)
    assert {k: lights[k] for k in ("gdp", "industry-va", "fai", "revenue", "trade", "income", "unemployment")} == {
        "gdp": "red",  # at risk two quarters running: escalated, as its alert is 红色预警
        "industry-va": "green",
        "fai": "green",
        "revenue": "red",
        "trade": "red",
        "income": "red",  # the same
        "unemployment": "green",
    }
    revenue = admin.locator("tr[data-indicator=revenue]")
    expect(revenue).to_contain_text("24.6%")
    expect(revenue).to_contain_text("-22.1个百分点")
    expect(revenue.locator(".light-red")).to_have_text("升级督办（红灯）")  # off track six months running
    expect(revenue).to_contain_text("升级：连续6期未达目标")
    expect(admin.locator("#project-line")).to_contain_text("112个区级重点项目开工68个，开工率60.7%")


def test_an_indicator_page_draws_its_chart_against_time_progress(admin: Page, server: Server) -> None:
    admin.click("tr[data-indicator=contract-value] a")
    chart = admin.locator("#indicator-chart[data-ready=true]")
    expect(chart).to_be_visible()
    expect(chart.locator("svg path").first).to_be_attached()
    expect(chart).to_contain_text("序时进度")
    expect(chart).to_contain_text("完成全年目标")
    expect(admin.locator("h1")).to_have_text("新签约市外项目合同额")


def test_moving_the_as_of_date_changes_the_table(admin: Page) -> None:
    assert admin.locator("tr[data-indicator=gdp] .actual").inner_text() == "5.5%"
    admin.fill("input[name=as_of]", "2025-03-31")
    admin.click("form.time-travel button[type=submit]")
    expect(admin.locator("#as-of")).to_contain_text("2025-03-31")
    expect(admin.locator("#main-table thead")).to_contain_text("1—3月完成")
    expect(admin.locator("tr[data-indicator=gdp] .actual")).to_have_text("5.8%")
    expect(admin.locator("tr[data-indicator=revenue] .actual")).to_have_text("3.9%")


def test_projects_filter_in_place(admin: Page, server: Server) -> None:
    admin.goto(f"{server.url}/plans/{PLAN}/projects")
    expect(admin.locator("#project-count")).to_contain_text("共 112 个项目")
    red = admin.locator("tr[data-project][data-light=red]").count()
    assert red >= 5  # the projects overdue three months and more
    admin.select_option("select[name=light]", "red")
    expect(admin).to_have_url(re.compile(r"light=red"))
    expect(admin.locator("#project-count")).to_contain_text(f"共 {red} 个项目")
    assert set(admin.locator("tr[data-project]").evaluate_all("rows => rows.map(r => r.dataset.light)")) == {"red"}
    admin.select_option("select[name=light]", "")
    expect(admin.locator("#project-count")).to_contain_text("共 112 个项目")
    admin.select_option("select[name=department]", "water")
    expect(admin).to_have_url(re.compile(r"department=water"))
    owners = admin.locator("tr[data-project] td:nth-child(2)")
    expect(owners.filter(has_not_text="区水利局")).to_have_count(0)
    assert owners.count() > 0


def test_an_alert_arrives_live_after_an_event_is_posted(admin: Page, server: Server) -> None:
    admin.goto(f"{server.url}/plans/{PLAN}/alerts")
    expect(admin.locator("#live-status")).to_have_text("实时 · 已连接")
    posted = httpx.post(
        f"{server.url}/v1/plans/{PLAN}/events",
        headers={"Authorization": f"Bearer {server.tokens['stats']}"},
        json={
            "event_id": str(uuid.uuid4()),
            "type": "indicator.updated",
            "subject": "retail",
            "period": "2025-07",
            "occurred_at": "2025-08-15T10:00:00+08:00",
            "value": "1.0",
        },
        trust_env=False,
    )
    assert posted.status_code == 201, posted.text
    arrived = admin.locator("#live li.live-item[data-subject=retail]")
    expect(arrived).to_contain_text("社会消费品零售总额", timeout=20_000)
    expect(admin.locator("#firing")).to_contain_text("社会消费品零售总额")


def test_a_department_submits_the_form_and_sees_the_value_in_the_table(stats: Page, server: Server) -> None:
    before = server.log_length()
    row = stats.locator("tr[data-subject=industry-va]")
    row.locator("input[name$=-value]").fill("8.3")
    row.locator("input[name$=-note]").fill("7月快报")
    stats.click("#entry-form button[type=submit]")
    expect(stats.locator("#entry-done")).to_contain_text("保存 1 条")
    expect(stats.locator("#entry-done")).to_contain_text("规上工业增加值")
    assert server.log_length() == before + 1
    stats.click("text=查看计划总览")
    expect(stats.locator("tr[data-indicator=industry-va] .actual")).to_have_text("8.3%")


def test_a_bad_value_is_refused_at_its_field_and_nothing_is_stored(stats: Page, server: Server) -> None:
    before = server.log_length()
    stats.locator("tr[data-subject=fai] input[name$=-value]").fill("十二")
    stats.locator("tr[data-subject=retail] input[name$=-value]").fill("12.0")
    stats.click("#entry-form button[type=submit]")
    field = stats.locator("tr[data-subject=fai] input[name$=-value]")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(stats.locator("tr[data-subject=fai] .field-error")).to_contain_text("不是有效的数字，可填写如")
    expect(stats.locator("#form-errors")).to_contain_text("表单有1处错误，未导入任何数据")
    expect(stats.locator("tr[data-subject=retail] input[name$=-value]")).to_have_value("12.0")
    assert server.log_length() == before


def test_a_signed_rollup_link_opens_on_a_phone_without_signing_in(
    admin: Page, browser: Browser, server: Server
) -> None:
    admin.goto(f"{server.url}/plans/{PLAN}/rollups")
    link = html.unescape(admin.locator(".rollup-month[data-period='2025-06'] input.share").first.input_value())
    assert "/shared/plans/rongchang-2025/rollups/2025-06.html?v=1&expires=" in link
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    page = phone.new_page()
    page.on("request", lambda request: REQUESTS.append(request.url))
    page.goto(link)
    expect(page.locator("h1")).to_contain_text("上半年国民经济和社会发展计划执行情况")
    expect(page.locator("svg.trend").first).to_be_visible()
    page.goto(link.replace("v=1", "v=7"))
    expect(page.locator("body")).to_contain_text("链接无效或已过期")
    phone.close()


def test_the_comparison_lists_every_plan(admin: Page, server: Server) -> None:
    admin.goto(f"{server.url}/")
    rows = admin.locator("#compare-table tbody tr")
    expect(rows).to_have_count(2)
    seed = admin.locator(f"tr[data-plan={PLAN}]")
    expect(seed).to_contain_text("60.7%（68/112）")
    seed.locator("a").click()
    expect(admin).to_have_url(f"{server.url}/plans/{PLAN}")


def test_screenshots_of_every_page(server: Server, tmp_path: Path) -> None:
    with ThreadPoolExecutor(1) as pool:  # a Playwright of its own, away from this module's
        written = pool.submit(take_screenshots, server.url, server.tokens["stats"], PLAN, tmp_path).result()
    names = sorted(path.name for path in written)
    assert names == [
        "00-login.png",
        "01-overview.png",
        "02-indicator.png",
        "03-projects.png",
        "04-alerts.png",
        "05-rollups.png",
        "06-compare.png",
        "07-entry.png",
    ]
    assert all(path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000 for path in written)


def test_no_request_left_the_machine(server: Server) -> None:
    """Run last: every page of this module asked 127.0.0.1 only (assets, fonts, scripts, feeds)."""
    assert len(REQUESTS) > 50
    assert off_host(REQUESTS, server.url) == []


def _reloaded_until(page: Page, locator: Locator, text: str, timeout: float = 20) -> None:
    """The alerts projection folds an acknowledgement or a silence a moment after the click: reload
    until the alert shows it (no notice is sent for either, so the live feed says nothing)."""
    deadline = time.monotonic() + timeout
    while text not in (locator.text_content() or ""):
        assert time.monotonic() < deadline, f"{text} never shown"
        time.sleep(0.3)
        page.reload()


def test_the_acknowledge_and_silence_buttons_mark_the_alert(admin: Page, server: Server) -> None:
    admin.goto(f"{server.url}/plans/{PLAN}/alerts")
    gdp = admin.locator(f"#firing-table tr[data-fingerprint='{PLAN}:indicator_behind:gdp']")
    gdp.get_by_role("button", name="认领").click()
    _reloaded_until(admin, gdp, "已认领")
    trade = admin.locator(f"#firing-table tr[data-fingerprint='{PLAN}:indicator_behind:trade']")
    trade.get_by_role("button", name="静默7天").click()
    _reloaded_until(admin, trade, "已静默")
    expect(gdp).not_to_contain_text("已静默")
    expect(admin.locator("#alert-history")).to_contain_text("认领")


def test_a_long_word_wraps_in_its_cell_and_the_page_keeps_its_width(admin: Page, server: Server) -> None:
    note = "已核实" + "M" * 400  # a word with no break: an id pasted, a URL
    acknowledged = httpx.post(
        f"{server.url}/v1/plans/{PLAN}/alerts/acknowledgements",
        json={"fingerprint": f"{PLAN}:indicator_behind:gdp", "note": note},
        headers={"Authorization": f"Bearer {server.tokens['stats']}"},
    )
    assert acknowledged.status_code == 201, acknowledged.text
    admin.goto(f"{server.url}/plans/{PLAN}/alerts")
    _reloaded_until(admin, admin.locator("#alert-history"), "MMMM")
    assert admin.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_plan_office_drafts_a_plan_from_its_tables_in_the_browser(admin: Page, server: Server) -> None:
    """Upload the office's two tables, see what to check, take the plan file away (publishing is
    tested over HTTP, so this module's plans stay as the other tests count them)."""
    tables = ROOT / "plans" / "examples" / "office-tables"
    admin.goto(f"{server.url}/")
    admin.click("text=起草计划")
    expect(admin).to_have_url(f"{server.url}/drafts")
    admin.fill("#draft-id", "example-office-2025")
    admin.fill("#draft-year", "2025")
    admin.fill("#draft-region", "示例区")
    admin.set_input_files("#draft-table", str(tables / "targets.csv"))
    admin.set_input_files("#draft-projects", str(tables / "projects.csv"))
    admin.click("#draft-form button[type=submit]")
    expect(admin.locator("#draft-counts")).to_contain_text("10 项主要指标，4 项其他目标任务，5 个重点项目")
    expect(admin.locator("#draft-notes")).to_contain_text("ind-NN")
    expect(admin.locator("#draft-targets tr[data-indicator=gdp]")).to_contain_text("每期数值6.5%左右")
    text = admin.locator("#draft-text").input_value()
    assert text.startswith("# 由 targets.csv 起草") and "projects:" in text
    with admin.expect_download() as download:
        admin.click("text=下载计划文件")
    assert Path(download.value.path()).read_text(encoding="utf-8") == text
    admin.set_input_files("#draft-table", str(tables / "projects.csv"))  # the wrong table: its columns are named
    admin.click("#draft-form button[type=submit]")
    expect(admin.locator("#draft-errors")).to_contain_text("找不到「全年目标」列")


def test_an_official_reconciles_the_published_report_in_the_browser(admin: Page, server: Server) -> None:
    """The seed report, uploaded on 对账, agrees with the table row for row."""
    admin.click("nav.tabs >> text=对账")
    expect(admin).to_have_url(f"{server.url}/plans/{PLAN}/reconcile")
    admin.set_input_files("#reconcile-report", str(ROOT / "docs" / "source" / "rongchang-2025-h1-report.txt"))
    admin.click("#reconcile-form button[type=submit]")
    expect(admin.locator("#reconcile-verdict")).to_have_text("一致")
    expect(admin.locator("#reconcile-result")).to_contain_text("10行中10行一致")
    expect(admin.locator("#reconcile-rows tr[data-indicator=gdp]").nth(2)).to_contain_text("-1.0个百分点")
