"""The dashboard through the real ASGI app on a real Redis: signing in (and being sent away),
the CSRF guard, roles, every page, the data-entry form's validation and all-or-nothing submit,
signed rollup links, and the offline API docs. The browser tests (test_dashboard_browser.py)
drive the same pages in Chromium."""

from __future__ import annotations

import asyncio
import html
import itertools
import os
import re
import signal
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from redis.asyncio import Redis

from events.models import plan_published
from events.plan import Plan
from projections.report import evaluate_indicator
from projections.series import indicator_series, portfolio_series
from projections.state import PlanState, fold
from services.app import App, load_plan
from services.demo import PLAN_PUBLISHED_AT, SEED_PLAN, h1_history, load_seed
from services.store import EventStore, Keyspace, SignedLinks, TokenStore, shared_rollup_path
from tests.conftest import ROOT, api_client, free_port
from tests.factories import small_plan
from tests.test_readmodel import _stored  # the seed's log as stored events

PLAN = "rongchang-2025"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def sign_in(http: httpx.AsyncClient, token: str, then: str = "/") -> httpx.Response:
    form = await http.get("/login", params={"next": then})
    csrf = CSRF.search(form.text)
    assert csrf, form.text
    return await http.post("/login", data={"token": token, "csrf": csrf[1], "next": then})


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text[:2000]
    return found[1]


@pytest.fixture
async def seeded(store: EventStore) -> EventStore:
    await load_seed(store)
    return store


async def test_pages_send_a_stranger_to_sign_in_and_back(redis: Redis, keys: Keyspace, seeded: EventStore) -> None:
    token, _ = await TokenStore(redis, keys).create("analyst", name="分析")
    async with api_client(redis, keys) as http:
        for path in (f"/plans/{PLAN}", f"/plans/{PLAN}/projects", f"/plans/{PLAN}/alerts", "/"):
            response = await http.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login?next=")
        page = f"{str(http.base_url).rstrip('/')}/plans/{PLAN}/alerts?state=firing"
        expired = await http.post(f"/plans/{PLAN}/alerts/acknowledge", data={"csrf": "x"}, headers={"referer": page})
        assert expired.headers["location"] == "/login?next=" + quote(f"/plans/{PLAN}/alerts?state=firing", safe="")
        elsewhere = await http.post("/logout", headers={"referer": "https://elsewhere.example/x"})
        assert elsewhere.headers["location"] == "/login?next=%2F"  # a form has no page: back to one of ours
        htmx = await http.get(f"/plans/{PLAN}/projects", headers={"HX-Request": "true"})
        assert htmx.status_code == 204 and htmx.headers["HX-Redirect"].startswith("/login")
        signed = await sign_in(http, token, f"/plans/{PLAN}/projects")
        assert signed.status_code == 303 and signed.headers["location"] == f"/plans/{PLAN}/projects"
        cookie = signed.headers["set-cookie"]
        assert "pw_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert (await http.get(f"/plans/{PLAN}/projects")).status_code == 200


async def test_sign_in_refuses_a_bad_token_a_missing_csrf_and_a_foreign_next(
    redis: Redis, keys: Keyspace, seeded: EventStore
) -> None:
    token, _ = await TokenStore(redis, keys).create("analyst")
    async with api_client(redis, keys) as http:
        wrong = await sign_in(http, "pwt_000000000000_not-a-real-token-at-all")
        assert (
            wrong.status_code == 401
            and "令牌无效或已被撤销" in wrong.text
            and "pw_session" not in wrong.headers.get("set-cookie", "")
        )
        empty = await sign_in(http, "  ")
        assert empty.status_code == 422 and "请输入令牌" in empty.text  # asked for, not called revoked
        forged = await http.post("/login", data={"token": token, "csrf": "guessed", "next": "/"})
        assert forged.status_code == 403 and "页面已过期" in forged.text
        away = await sign_in(http, token, "https://evil.example/steal")
        assert away.status_code == 303 and away.headers["location"] == "/"


async def test_revoking_the_token_ends_its_sessions_and_signing_out_needs_the_csrf_token(
    redis: Redis, keys: Keyspace, seeded: EventStore
) -> None:
    tokens = TokenStore(redis, keys)
    token, info = await tokens.create("analyst")
    async with api_client(redis, keys) as http:
        await sign_in(http, token)
        page = await http.get(f"/plans/{PLAN}")
        assert page.status_code == 200
        refused = await http.post("/logout", data={"csrf": "wrong"})
        assert refused.status_code == 403 and "页面已过期" in refused.text
        assert (await http.get(f"/plans/{PLAN}")).status_code == 200  # still signed in
        await tokens.revoke(info.id)  # elsewhere: the API trusts the record it read for half a second
        ended = time.monotonic()
        while (await http.get(f"/plans/{PLAN}")).status_code != 303:
            assert time.monotonic() - ended < 1.0, "the session outlived its revoked token by a second"
    async with api_client(redis, keys) as http:
        other, _ = await tokens.create("analyst")
        await sign_in(http, other)
        page = await http.get(f"/plans/{PLAN}")
        out = await http.post("/logout", data={"csrf": csrf_of(page)})
        assert out.status_code == 303
        assert (await http.get(f"/plans/{PLAN}")).status_code == 303
        assert not [key async for key in redis.scan_iter(match=f"{keys.prefix}:session:*")]


async def test_the_overview_shows_the_table_with_the_lights_planwatch_table_gives(
    redis: Redis, keys: Keyspace, seeded: EventStore
) -> None:
    from services.app import App

    token, _ = await TokenStore(redis, keys).create("analyst")
    summary = await App(redis, keys).reports.summary(PLAN, up_to_date=True)
    expected = {"off_track": "red", "at_risk": "yellow", "met": "green", "on_track": "green"}
    async with api_client(redis, keys) as http:
        await sign_in(http, token)
        page = (await http.get(f"/plans/{PLAN}")).text
        june = (await http.get(f"/plans/{PLAN}", params={"as_of": "2025-03-31"})).text
    rows = dict(re.findall(r'data-indicator="([^"]+)" data-light="([a-z]+)"', page))
    for row in summary.indicators:  # the status's own light, unless its alert escalated
        assert rows[row.id] == (row.light if row.escalated else expected.get(row.status, "grey")), row.id
    # GDP missed Q1 and Q2 (5.8%, 5.5% against 6.5%左右): its alert is 红色预警, so its light is red
    assert rows["gdp"] == "red" and rows["trade"] == "red" and rows["fai"] == "green"
    assert "预警升级（红灯）" in page and "升级：连续2期未达目标" in page
    assert "112个区级重点项目开工68个，开工率60.7%，完成投资91亿元，投资完成率50.5%" in page
    assert "数据截至 <strong>2025-06-30</strong>" in page and "正在查看历史状态" not in page
    assert "数据截至 <strong>2025-03-31</strong>" in june and "正在查看历史状态" in june
    assert "1—3月完成" in june and ">5.8%<" in june  # the first quarter's GDP


async def test_the_indicator_page_carries_its_trend_and_the_api_serves_it(
    redis: Redis, keys: Keyspace, seeded: EventStore
) -> None:
    token, _ = await TokenStore(redis, keys).create("analyst")
    async with api_client(redis, keys, token) as api:
        fai = (await api.get(f"/v1/plans/{PLAN}/indicators/fai")).json()
        contract = (await api.get(f"/v1/plans/{PLAN}/indicators/contract-value")).json()
    assert [p["period"] for p in fai["series"]] == [f"2025-{m:02d}" for m in range(1, 7)]
    may = fai["series"][4]
    assert may["value"] == 13.1 and may["revision"] == 2 and may["target_value"] == 8  # the corrected 1—5月
    assert contract["series"][-1]["completion"] == 54.4 and contract["series"][-1]["time_progress"] == 50
    assert contract["series"][0]["time_progress"] == 8.3  # judged as of January, not as of June
    async with api_client(redis, keys) as http:
        await sign_in(http, token)
        page = await http.get(f"/plans/{PLAN}/indicators/fai")
    assert page.status_code == 200 and 'id="chart-data"' in page.text
    assert "第2次报送，修订前 12.6" in page.text
    assert '<span class="muted" id="judged-as">考核方式：每期数值不低于8%</span>' in page.text
    # 数据来源: the events behind the figure shown, the same trail as planwatch why
    trail = await App(redis, keys).reports.provenance(PLAN, "fai")
    sources = page.text[page.text.index('id="sources"') :]
    assert all(s.event_id and s.event_id in sources for s in trail.sources) and len(trail.sources) >= 2
    assert "区统计局" in sources


async def test_projects_filter_by_department_category_and_light_and_sort(
    redis: Redis, keys: Keyspace, seeded: EventStore
) -> None:
    token, _ = await TokenStore(redis, keys).create("analyst")
    async with api_client(redis, keys) as http:
        await sign_in(http, token)
        red = await http.get(f"/plans/{PLAN}/projects", params={"light": "red"}, headers={"HX-Request": "true"})
        water = await http.get(f"/plans/{PLAN}/projects", params={"department": "water", "sort": "name"})
        by_rate = await http.get(
            f"/plans/{PLAN}/projects", params={"sort": "investment_rate", "order": "desc"}, headers={"HX-Request": "1"}
        )
    assert "<html" not in red.text  # the table alone, for htmx
    reds = re.findall(r'data-project="([^"]+)" data-light="([a-z]+)"', red.text)
    assert {light for _, light in reds} == {"red"} and {"kp-025"} <= {p for p, _ in reds}
    assert re.findall(r'data-light="([a-z]+)"', water.text) and "区水利局" in water.text
    rates = [float(r) for r in re.findall(r'class="num">([\d.]+)%</td>\s*<td class="num">[\d.-]+%?</td>', by_rate.text)]
    assert rates == sorted(rates, reverse=True) and len(rates) > 10


async def test_the_entry_form_reads_by_the_sheet_rules_all_or_nothing_and_names_the_field(
    redis: Redis, keys: Keyspace, seeded: EventStore
) -> None:
    tokens = TokenStore(redis, keys)
    stats, _ = await tokens.create("department", "stats", "统计局")
    before = await seeded.length(PLAN)
    async with api_client(redis, keys) as http:
        await sign_in(http, stats)
        form = await http.get(f"/plans/{PLAN}/entry", params={"month": "2025-07"})
        assert form.status_code == 200
        lines = re.findall(r'<tr data-subject="([^"]+)">', form.text)
        assert lines[:2] == ["industry-va", "fai"] and "gdp" not in lines  # quarterly: not due in July
        index = {subject: i for i, subject in enumerate(lines)}
        bad = {
            "csrf": csrf_of(form),
            "month": "2025-07",
            f"r{index['fai']}-value": "12,9x",
            f"r{index['retail']}-value": "12.1",
        }
        refused = await http.post(f"/plans/{PLAN}/entry", data=bad)
        assert refused.status_code == 422
        assert re.search(rf'id="r{index["fai"]}-value-error" role="alert">不是有效的数字，可填写如', refused.text)
        assert 'value="12.1"' in refused.text  # what was typed stays
        assert await seeded.length(PLAN) == before  # all or nothing: the good row was not stored either
        good = {**bad, f"r{index['fai']}-value": "13.0", "csrf": csrf_of(refused)}
        done = await http.post(f"/plans/{PLAN}/entry", data=good)
        assert done.status_code == 200 and "已提交" in done.text and "保存 <strong>2</strong> 条" in done.text
        again = await http.post(f"/plans/{PLAN}/entry", data=good)
        assert "保存 <strong>0</strong> 条" in again.text and "未重复保存" in again.text
        monthless = {key: value for key, value in good.items() if key != "month"}
        guessed = await http.post(f"/plans/{PLAN}/entry", data={**monthless, "csrf": csrf_of(again)})
        assert guessed.status_code == 422 and "缺少填报月份" in guessed.text  # the rows are the page's month's
        overview = await http.get(f"/plans/{PLAN}")
    assert await seeded.length(PLAN) == before + 2
    assert "1—7月完成" in overview.text and ">13.0%<" in overview.text


async def test_the_entry_form_takes_the_assessment_of_a_qualitative_target(
    redis: Redis, keys: Keyspace, seeded: EventStore
) -> None:
    eco, _ = await TokenStore(redis, keys).create("department", "eco", "生态环境局")
    async with api_client(redis, keys) as http:
        await sign_in(http, eco)
        form = await http.get(f"/plans/{PLAN}/entry", params={"month": "2025-12"})
        lines = re.findall(r'<tr data-subject="([^"]+)">', form.text)
        water, days = lines.index("water-quality"), lines.index("good-air-days")
        assert f'<select name="r{water}-assessment"' in form.text  # 达到Ⅲ类: judged by the assessment
        assert f'name="r{days}-assessment"' not in form.text  # a number's target: no verdict to give
        sent = {"csrf": csrf_of(form), "month": "2025-12", f"r{water}-assessment": "完成"}
        refused = await http.post(f"/plans/{PLAN}/entry", data=sent)
        assert refused.status_code == 422
        assert re.search(rf'id="r{water}-value-error" role="alert">请同时填写本期累计值', refused.text)
        assert '<option value="完成" selected>' in refused.text  # the choice stays
        done = await http.post(f"/plans/{PLAN}/entry", data={**sent, f"r{water}-value": "3", "csrf": csrf_of(refused)})
        assert done.status_code == 200 and "保存 <strong>1</strong> 条" in done.text
    [stored] = [e for e in await seeded.read(PLAN, limit=10_000) if e.event.subject == "water-quality"]
    assert stored.event.type == "indicator.updated" and stored.event.assessment == "met"
    state = fold(await seeded.read(PLAN, limit=10_000), plan_id=PLAN)
    indicator = state.plan.indicator("water-quality") if state.plan else None
    assert indicator is not None
    row = evaluate_indicator(state, indicator, date(2026, 1, 31))
    assert (row.evaluation.status, row.evaluation.deviation_text) == ("met", "完成")


async def test_only_a_department_may_enter_data_and_forms_need_the_csrf_token(
    redis: Redis, keys: Keyspace, seeded: EventStore
) -> None:
    tokens = TokenStore(redis, keys)
    analyst, _ = await tokens.create("analyst")
    stats, _ = await tokens.create("department", "stats")
    async with api_client(redis, keys) as http:
        await sign_in(http, analyst)
        page = await http.get(f"/plans/{PLAN}/entry")
        assert page.status_code == 403 and "数据填报需使用部门令牌" in page.text
        assert f'href="/plans/{PLAN}/entry"' not in (await http.get(f"/plans/{PLAN}")).text
    async with api_client(redis, keys) as http:
        await sign_in(http, stats)
        forged = await http.post(f"/plans/{PLAN}/entry", data={"month": "2025-07", "r0-value": "9"})
        assert forged.status_code == 403 and "页面已过期" in forged.text
        outside = await http.get(f"/plans/{PLAN}/entry", params={"month": "2026-01"})
        assert outside.status_code == 422 and "请选择计划年度2025年内的月份" in outside.text


async def test_a_signed_link_opens_one_rollup_without_signing_in_until_it_expires(
    redis: Redis, keys: Keyspace, seeded: EventStore
) -> None:
    from services.app import App

    app = App(redis, keys)
    await app.rollups.produce(PLAN, "2025-06")
    links = await SignedLinks.load(redis, keys, "https://planwatch.example.gov.cn")
    link = links.rollup(PLAN, "2025-06", 1)
    assert link is not None and link.startswith("https://planwatch.example.gov.cn/shared/plans/")
    path = link.removeprefix("https://planwatch.example.gov.cn")
    async with api_client(redis, keys) as http:  # no session, no token
        opened = await http.get(path)
        assert opened.status_code == 200 and opened.headers["content-type"].startswith("text/html")
        assert "上半年国民经济和社会发展计划执行情况" in opened.text and "<svg" in opened.text
        tampered = await http.get(path.replace("v=1", "v=2"))
        other = await http.get(path.replace("2025-06.html", "2025-06.xlsx"))
        old = links.sign(shared_rollup_path(PLAN, "2025-06", "html"), 1, ttl_s=-1)
        expired = await http.get(old)
        for response in (tampered, other, expired):
            assert response.status_code == 403 and "链接无效或已过期" in response.text
        signed_in_only = await http.get(f"/plans/{PLAN}/rollups/2025-06.html")
        assert signed_in_only.status_code == 303
    other_key = SignedLinks(b"another installation's key", "https://x")
    assert not other_key.valid(shared_rollup_path(PLAN, "2025-06", "html"), 1, int(time.time()) + 60, "AAAA")


async def test_the_rollups_page_lists_versions_with_downloads_and_share_links(
    redis: Redis, keys: Keyspace, seeded: EventStore
) -> None:
    from services.app import App
    from tests.factories import indicator_update

    app = App(redis, keys)
    await app.rollups.produce(PLAN, "2025-06")
    await seeded.append([indicator_update(PLAN, "retail", "2025-06", "11.9")])  # late correction: version 2
    await app.rollups.produce(PLAN, "2025-06")
    token, _ = await TokenStore(redis, keys).create("analyst")
    async with api_client(redis, keys) as http:
        await sign_in(http, token)
        page = await http.get(f"/plans/{PLAN}/rollups")
        assert re.findall(r'data-version="(\d)"', page.text) == ["2", "1"]
        shares = [html.unescape(s) for s in re.findall(r'class="share" readonly value="([^"]+)"', page.text)]
        assert len(shares) == 2 and "v=2" in shares[0] and "v=1" in shares[1]
        xlsx = await http.get(f"/plans/{PLAN}/rollups/2025-06.xlsx", params={"version": 1, "download": 1})
        assert xlsx.status_code == 200 and "attachment" in xlsx.headers["content-disposition"]
    async with api_client(redis, keys) as anonymous:
        shared = await anonymous.get(shares[1].removeprefix("http://planwatch"))
        assert shared.status_code == 200 and "第1版" in shared.text


async def test_several_plans_are_compared_one_row_each(redis: Redis, keys: Keyspace, seeded: EventStore) -> None:
    from services.app import publish_plan

    await publish_plan(seeded, small_plan("other-2025"))
    token, _ = await TokenStore(redis, keys).create("analyst")
    async with api_client(redis, keys) as http:
        await sign_in(http, token)
        page = await http.get("/")
    rows = re.findall(r'<tr data-plan="([^"]+)">', page.text)
    assert sorted(rows) == ["other-2025", PLAN]
    assert "60.7%（68/112）" in page.text and "50.5%" in page.text
    seed_row = page.text[page.text.index(f'data-plan="{PLAN}"') :]
    # 一般公共预算收入, 进出口总额 off track, and 地区生产总值, 居民收入增速 at risk two quarters running (escalated)
    assert re.search(r'count-red">(\d+)<', seed_row)[1] == "4"


async def test_api_docs_work_offline_and_declare_the_bearer_scheme(redis: Redis, keys: Keyspace) -> None:
    async with api_client(redis, keys) as http:
        docs, redoc = await http.get("/docs"), await http.get("/redoc")
        document = (await http.get("/openapi.json")).json()
        for page in (docs, redoc):
            assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
            assert assets and all(a.startswith("/") for a in assets), assets
            assert "cdn" not in page.text and "fonts.googleapis" not in page.text
            for asset in assets:
                assert (await http.get(asset)).status_code == 200, asset
        for asset in ("/static/vendor/echarts/echarts.common.min.js", "/static/vendor/htmx/htmx.min.js"):
            assert (await http.get(asset)).status_code == 200
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "a token from `planwatch token create`: pwt_…",
    }
    summary = document["paths"]["/v1/plans/{plan}"]["get"]
    assert summary["security"] == [{"bearer": []}]
    assert summary["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    posted = document["paths"]["/v1/plans/{plan}/events"]["post"]["responses"]["201"]
    assert posted["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/AcceptedBatch"}
    listed = document["paths"]["/v1/plans"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert listed["items"] == {"$ref": "#/components/schemas/PlanListing"}
    assert not [
        p for p in document["paths"] if not p.startswith(("/v1", "/healthz", "/readyz", "/metrics", "/asyncapi"))
    ]


def test_the_trend_judges_each_period_as_of_its_end() -> None:
    plan: Plan = load_plan(SEED_PLAN)
    state: PlanState = fold(_stored([plan_published(plan, 0, PLAN_PUBLISHED_AT), *h1_history(plan)]), plan_id=plan.id)
    revenue = indicator_series(state, plan.indicator("revenue"), date(2025, 6, 30))
    assert [p.value for p in revenue] == [6.1, 4.8, 3.9, 3.2, 2.9, 2.5]
    assert {p.status for p in revenue} == {"off_track"} and revenue[0].deviation_points == Decimal("-18.5")
    income = indicator_series(state, plan.indicator("income"), date(2025, 6, 30))
    assert [(p.reference_value, p.deviation_points) for p in income] == [(5.8, -0.8), (5.5, -0.8)]
    assert indicator_series(state, plan.indicator("revenue"), date(2025, 3, 30))[-1].period == "2025-02"
    months = portfolio_series(state, date(2025, 6, 30))
    assert [p.period for p in months] == [f"2025-{m:02d}" for m in range(1, 7)]
    assert (months[-1].started, months[-1].start_rate, months[-1].investment_rate) == (68, 60.7, 50.5)
    assert all(a.investment_wan <= b.investment_wan for a, b in itertools.pairwise(months))


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def _start_up(cli_env: dict[str, str], home: Path, *options: str) -> tuple[subprocess.Popen[str], str]:
    """`planwatch up` started with its home in `home`, and what it said until it was up."""
    up = subprocess.Popen(
        [sys.executable, "-m", "services", "up", *options],
        env={**cli_env, "PLANWATCH_HOME": str(home)},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    said = []
    assert up.stdout is not None
    for line in up.stdout:
        said.append(line)
        if "Ctrl-C" in line:
            break
    return up, "".join(said)


def test_planwatch_up_runs_everything_prints_where_and_stops_on_ctrl_c(cli_env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    up, text = _start_up(cli_env, tmp_path, "--port", str(port))
    try:
        assert f"planwatch 已启动：打开 http://127.0.0.1:{port}/" in text, text
        assert "已载入示例计划 rongchang-2025" in text
        tokens = re.findall(r"pwt_[0-9a-f]{12}_[A-Za-z0-9_-]+", text)
        assert len(tokens) == 2
        children = _children(up.pid)
        assert len(children) == 3  # api, worker, scheduler
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as http:
            form = http.get("/login")
            signed = http.post("/login", data={"token": tokens[1], "csrf": csrf_of(form), "next": "/"})
            assert signed.status_code == 303
            page = http.get(f"/plans/{PLAN}/entry")
            assert page.status_code == 200 and "数据填报 · 区住房城乡建委" in page.text  # indicators and most projects
        up.send_signal(signal.SIGINT)
        rest, _ = up.communicate(timeout=30)
    finally:
        if up.poll() is None:
            up.kill()
    assert up.returncode == 0, rest
    assert "已停止" in rest
    assert not [pid for pid in children if _alive(pid)]
    assert {p.name for p in (tmp_path / "logs").iterdir()} == {"api.log", "worker.log", "scheduler.log"}


def test_planwatch_up_stops_the_rest_when_one_process_dies_and_says_which(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """A part that dies is named and takes the rest down with it, rather than leaving a
    half-working service."""
    up, _ = _start_up(cli_env, tmp_path, "--port", str(free_port()), "--no-demo")
    try:
        children = _children(up.pid)
        assert len(children) == 3  # api, worker, scheduler
        worker = next(pid for pid in children if b"worker" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"))
        os.kill(worker, signal.SIGKILL)
        rest, _ = up.communicate(timeout=30)
    finally:
        if up.poll() is None:
            up.kill()
    assert up.returncode == 1, rest
    assert "planwatch worker stopped" in rest and "worker.log" in rest
    assert not [pid for pid in children if _alive(pid)]


async def test_the_live_feed_reads_each_plan_once_however_many_listen(redis_url: str, keys: Keyspace) -> None:
    """Forty pages open on 预警 hold one Redis connection, not forty: with a pool of three the feed
    still reaches every listener, and other requests are answered meanwhile."""
    from services.app import App
    from services.store import connect

    small = connect(redis_url, max_connections=3)
    try:
        app = App(small, keys)
        outbox = keys.outbox(PLAN)

        async def notice(n: int) -> str:
            return str(await small.xadd(outbox, {"fingerprint": f"f{n}", "type": "alert.raised", "notice": f"{{{n}}}"}))

        first = await notice(1)
        feeds = [app.alerting.feed(PLAN, None) for _ in range(40)]
        waiting = [asyncio.ensure_future(anext(feed)) for feed in feeds]
        await asyncio.sleep(0.3)  # every listener has joined
        assert await asyncio.wait_for(small.ping(), 2)  # the pool is not exhausted
        second = await notice(2)
        got = await asyncio.wait_for(asyncio.gather(*waiting), 10)
        assert {item for item in got} == {(second, "alert.raised", "{2}")}
        late = app.alerting.feed(PLAN, first)  # back with Last-Event-ID: what it missed, then live
        assert await asyncio.wait_for(anext(late), 5) == (second, "alert.raised", "{2}")
        third = await notice(3)
        assert await asyncio.wait_for(anext(late), 5) == (third, "alert.raised", "{3}")
        for feed in [*feeds, late]:
            await feed.aclose()
        assert app.alerting.live._plans == {}  # the last listener gone, the reader stops
    finally:
        await small.aclose()


async def test_an_admin_drafts_a_plan_from_the_office_tables_and_publishes_it(redis: Redis, keys: Keyspace) -> None:
    tables = ROOT / "plans" / "examples" / "office-tables"
    admin, _ = await TokenStore(redis, keys).create("admin")
    analyst, _ = await TokenStore(redis, keys).create("analyst")
    async with api_client(redis, keys) as http:
        await sign_in(http, admin)
        form = await http.get("/drafts")
        assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
        fields = {
            "csrf": csrf_of(form),
            "id": "example-office-2025",
            "year": "2025",
            "region": "示例区",
            "office": "区统计局",
        }
        files = {
            "table": ("targets.csv", (tables / "targets.csv").read_bytes()),
            "projects": ("projects.csv", (tables / "projects.csv").read_bytes()),
        }
        forged = await http.post("/drafts", data={**fields, "csrf": "forged"}, files=files)
        assert forged.status_code == 403 and "页面已过期" in forged.text
        drafted = await http.post("/drafts", data=fields, files=files)
        assert drafted.status_code == 200, drafted.text[:3000]
        assert "10 项主要指标，4 项其他目标任务，5 个重点项目" in drafted.text and "请核对" in drafted.text
        assert "定性目标，按年度考核结论（完成/未完成）判断" in drafted.text  # 考核方式, as plan check --targets says
        text = html.unescape(re.search(r'<textarea name="text"[^>]*>(.*?)</textarea>', drafted.text, re.S)[1])
        assert "\noffice: stats\n" in text  # the office the form named owns the plan
        assert not [key async for key in redis.scan_iter(match=f"{keys.prefix}*example-office-2025*")]  # not yet
        bad = await http.post(
            "/drafts",
            data=fields,
            files={"table": ("t.csv", "指标,全年目标,责任单位\n地区生产总值,大约,区统计局\n".encode())},
        )
        assert bad.status_code == 422 and "第2行「全年目标」" in html.unescape(bad.text)
        for field, typed, said in (
            ("year", "²", "计划年度"),
            ("year", "99999", "计划年度"),
            ("id", "BAD ID", "计划编号"),
        ):
            refused = await http.post("/drafts", data={**fields, field: typed}, files=files)
            assert refused.status_code == 422 and said in refused.text, refused.text[:2000]
        oversized = await http.post("/drafts", data={**fields, "name": "x" * 1_500_000}, files=files)
        assert oversized.status_code == 413 and "表单内容过大" in oversized.text  # a page, not the API's JSON
        assert oversized.headers["content-type"].startswith("text/html")
        broken = await http.post(
            "/drafts/publish", data={"csrf": fields["csrf"], "text": text.replace("year: 2025", "year: twenty")}
        )
        assert broken.status_code == 422 and "计划文件有误" in broken.text
        published = await http.post("/drafts/publish", data={"csrf": fields["csrf"], "text": text})
        assert published.status_code == 303 and published.headers["location"] == "/plans/example-office-2025"
        assert (await http.get("/plans/example-office-2025")).status_code == 200
    async with api_client(redis, keys) as http:
        await sign_in(http, analyst)
        assert (await http.get("/drafts")).status_code == 403
        own_csrf = csrf_of(
            await http.get("/plans/example-office-2025")
        )  # the analyst's own form token: refused for the role, not the form
        refused = await http.post("/drafts/publish", data={"csrf": own_csrf, "text": text})
        assert refused.status_code == 403 and "管理令牌" in refused.text
