"""Driving the dashboard in a real Chromium (Playwright): screenshots of every page for
`planwatch screenshots`, and the browser the tests use. Debian's chromium (`/usr/bin/chromium`,
or PLANWATCH_CHROMIUM), headless, with Chrome's own calls home switched off: a page must load
everything it needs from planwatch itself."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM_ARGS = [
    "--no-sandbox",  # as root in a container
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--no-first-run",
    "--metrics-recording-only",
]


def chromium_path() -> str:
    """The Chromium to drive: PLANWATCH_CHROMIUM, else Debian's."""
    path = os.environ.get("PLANWATCH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise RuntimeError(
            f"no Chromium at {path}: install it (apt-get install -y chromium fonts-noto-cjk) or set PLANWATCH_CHROMIUM"
        )
    return path


@contextmanager
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Page, base_url: str, token: str, then: str = "/") -> None:
    page.goto(f"{base_url}/login?next={then}")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def off_host(requests: list[str], base_url: str) -> list[str]:
    """The requests that went anywhere but the server under test."""
    host = urlsplit(base_url).hostname
    return [
        url
        for url in requests
        if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).hostname != host
    ]


@dataclass(frozen=True)
class Shot:
    name: str  # file stem
    path: str  # the page's path
    chart: str | None = None  # the chart's element: wait until it is drawn, if the page has one
    unless_redirected: bool = False  # skip it when the page sends the reader elsewhere (one plan: no comparison)


def pages_of(plan_id: str, indicator: str, with_entry: bool) -> list[Shot]:
    shots = [
        Shot("01-overview", f"/plans/{plan_id}"),
        Shot("02-indicator", f"/plans/{plan_id}/indicators/{indicator}", "#indicator-chart"),
        Shot("03-projects", f"/plans/{plan_id}/projects", "#portfolio-chart"),
        Shot("04-alerts", f"/plans/{plan_id}/alerts"),
        Shot("05-rollups", f"/plans/{plan_id}/rollups"),
        Shot("06-compare", "/", unless_redirected=True),
    ]
    if with_entry:
        shots.append(Shot("07-entry", f"/plans/{plan_id}/entry"))
    return shots


def take_screenshots(
    base_url: str,
    token: str,
    plan_id: str,
    out: Path,
    indicator: str = "gdp",
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """A full-page PNG of each page, signed in with `token`, into `out`; the login page and a
    shared rollup link first (those need no token)."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    requests: list[str] = []
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN", device_scale_factor=1)
        page = context.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.goto(f"{base_url}/login")
        written.append(_shot(page, out / "00-login.png"))
        sign_in(page, base_url, token, f"/plans/{plan_id}")
        with_entry = page.locator("nav a[href$='/entry']").count() > 0  # a department token
        for shot in pages_of(plan_id, indicator, with_entry):
            page.goto(base_url + shot.path)
            page.wait_for_load_state("networkidle")
            if shot.unless_redirected and page.url != base_url + shot.path:
                continue
            if shot.chart and page.locator(shot.chart).count():
                page.wait_for_selector(f"{shot.chart}[data-ready]", timeout=10_000)
            written.append(_shot(page, out / f"{shot.name}.png"))
            if progress:
                progress(shot.name)
        context.close()
    leaked = off_host(requests, base_url)
    if leaked:
        raise RuntimeError(f"the pages asked other hosts for: {', '.join(sorted(set(leaked)))}")
    return written


def _shot(page: Page, path: Path) -> Path:
    page.screenshot(path=str(path), full_page=True)
    return path
