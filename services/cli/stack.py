"""`planwatch up` and `planwatch screenshots`: the service's processes started together on one
Redis, watched, and stopped together.

The parts run as processes of their own (`planwatch api`, `worker`, `scheduler`), as in
production, rather than as tasks of one process: each keeps its own event loop, connections and
signal handling, and one that dies is noticed and stops the rest rather than leaving a half-working
service. Their logs go to files under the home directory; the terminal shows what to open."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from services.cli.common import PORT_RANGE, console, fail

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import FrameType

    from services.app import App

commands = typer.Typer()

DEMO_TOKEN_NAME = "planwatch up 演示"
SEED_PLAN_ID = "rongchang-2025"


@dataclass
class Stack:
    """Processes of planwatch on one Redis, each logging to `logs/NAME.log`."""

    env: dict[str, str]
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _files: list[TextIO] = field(default_factory=list)

    def start(self, name: str, *args: str) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = (self.logs / f"{name}.log").open("a", encoding="utf-8")
        self._files.append(log)
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "services", *args], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )

    def exited(self) -> str | None:
        """The name of a process that has stopped, if any has."""
        return next((name for name, proc in self.procs.items() if proc.poll() is not None), None)

    def wait_healthy(self, url: str, timeout: float = 60) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (gone := self.exited()) is not None:
                raise RuntimeError(f"planwatch {gone} stopped at start; see {self.logs / gone}.log")
            try:
                if httpx.get(f"{url}/healthz", timeout=2, trust_env=False).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the API did not answer at {url} within {timeout:.0f} s; see {self.logs / 'api.log'}")

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM each process still running (the last started first), then SIGKILL stragglers."""
        for proc in reversed(self.procs.values()):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in self._files:
            log.close()


@contextmanager
def running(env: dict[str, str], logs: Path) -> Iterator[Stack]:
    stack = Stack(env, logs)
    try:
        yield stack
    finally:
        stack.stop()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def stack_env(redis_url: str, public_url: str | None) -> dict[str, str]:
    """The children's environment: this Redis (the embedded one already started), and the public
    address for links in messages unless one is configured."""
    env = {**os.environ, "PLANWATCH_REDIS_URL": redis_url}
    if public_url and not env.get("PLANWATCH_PUBLIC_URL"):
        env["PLANWATCH_PUBLIC_URL"] = public_url
    return env


async def seed_if_empty(app: App) -> str | None:
    """Publish the seed plan and its H1 history (the demo) when no plan is published; the plan id."""
    from services.demo import load_seed

    if await app.plans.published():
        return None
    plan_id, _, _ = await load_seed(app.store)
    return plan_id


async def demo_tokens(app: App, name: str = DEMO_TOKEN_NAME, plan_id: str | None = None) -> dict[str, str]:
    """Sign-in tokens for a demo, new each run (the earlier run's are revoked): one for the plan
    office (admin: every page) and one for the department with the most to report, indicators and
    projects (its data-entry form)."""
    await _revoke(app, name)
    made = {"admin": (await app.access.create_token("admin", None, f"{name}（管理员）"))[0]}
    published = sorted(await app.plans.published(), key=lambda p: (p.id != SEED_PLAN_ID, p.id))
    plans = [p for p in published if plan_id is None or p.id == plan_id]
    if plans:
        plan = plans[0]
        with_indicators = {i.department for i in plan.indicators}
        owners = Counter(p.department for p in plan.projects if p.department in with_indicators)
        owners.update(with_indicators)  # every indicator owner counts, those with projects more
        if owners:
            department = owners.most_common(1)[0][0]
            label = f"{name}（{plan.department_name(department)}）"
            made[department] = (await app.access.create_token("department", department, label, [plan.id]))[0]
    return made


async def caught_up(app: App) -> bool:
    """Whether every plan's projections (read model and alerts) have applied the whole log."""
    rows = await app.operations.status()
    return all(row.status.generation and not row.status.lag for row in rows)


@commands.command()
def up(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(**PORT_RANGE, help="port")] = 8000,
    demo: Annotated[bool, typer.Option(help="publish the seed plan and its history when no plan is published")] = True,
) -> None:
    """Run all of planwatch at once: the API with the dashboard, a worker (projections, the
    departments' inbox, the notifier) and the scheduler, on the embedded Redis (or
    PLANWATCH_REDIS_URL). Prints the address to open and sign-in tokens; Ctrl-C stops them all."""
    from services.cli.common import with_app
    from services.settings import Settings

    settings = Settings.from_env()
    redis_url = settings.redis_target()
    url = f"http://{host}:{port}"

    async def prepare(app: App) -> tuple[str | None, dict[str, str]]:
        seeded = await seed_if_empty(app) if demo else None
        return seeded, await demo_tokens(app)

    seeded, tokens = with_app(prepare)
    logs = settings.home.absolute() / "logs"
    signal.signal(signal.SIGTERM, _interrupted)  # a service manager's stop: as Ctrl-C
    try:
        with running(stack_env(redis_url, url), logs) as stack:
            stack.start("api", "api", "--host", host, "--port", str(port))
            stack.start("worker", "worker")
            stack.start("scheduler", "scheduler")
            try:
                stack.wait_healthy(url)
            except RuntimeError as exc:
                raise fail(str(exc)) from None
            _welcome(url, tokens, seeded, logs)
            gone = _serve(stack)
        if gone is not None:
            raise fail(f"planwatch {gone} stopped; the rest were stopped (see {logs / gone}.log)")
    except KeyboardInterrupt:  # while starting
        pass
    console.print("已停止：API、worker、scheduler 均已退出。")


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _serve(stack: Stack) -> str | None:
    """Wait until Ctrl-C or SIGTERM (None) or until one of the processes stops (its name). Here
    the signals set a flag instead of raising: a KeyboardInterrupt that lands inside `Popen.poll`
    can leave the Popen's wait lock taken, and stopping the processes then waits for ever."""
    asked: list[int] = []

    def stop_asked(signum: int, frame: FrameType | None) -> None:
        asked.append(signum)

    previous = {number: signal.signal(number, stop_asked) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not asked:
            if (gone := stack.exited()) is not None:
                return gone
            time.sleep(0.5)
        return None
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)


def _welcome(url: str, tokens: dict[str, str], seeded: str | None, logs: Path) -> None:
    lines = [f"[bold]planwatch 已启动：打开 {url}/[/]"]
    if seeded:
        lines.append(f"已载入示例计划 {seeded}（荣昌区2025年上半年数据）。")
    lines.append("用以下令牌登录（每次启动重新生成，上次的已作废）：")
    for who, token in tokens.items():
        role = "管理员，可查看全部页面" if who == "admin" else f"部门 {who}，可填报本部门数据"
        lines.append(f"  {token}    （{role}）")
    lines += [f"接口文档：{url}/docs    日志：{logs}/", "按 Ctrl-C 停止全部进程。"]
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)


@commands.command()
def screenshots(
    out: Annotated[Path, typer.Option("-o", "--out", help="directory for the PNGs")] = Path("out/screenshots"),
    plan: Annotated[
        str | None, typer.Option("--plan", help="the plan to show (default: the seed plan, else the first)")
    ] = None,
    indicator: Annotated[str, typer.Option(help="the indicator whose page to show")] = "gdp",
) -> None:
    """Write a PNG of every dashboard page (Chromium, headless): starts the API and a worker on a
    free port, loads the seed plan if no plan is published, signs in with a token made for the
    purpose (revoked afterwards)."""
    from services.cli.common import with_app
    from services.dashboard import take_screenshots
    from services.settings import Settings

    settings = Settings.from_env()
    redis_url = settings.redis_target()
    url = f"http://127.0.0.1:{free_port()}"

    async def prepare(app: App) -> tuple[str, dict[str, str]]:
        await seed_if_empty(app)
        ids = sorted(p.id for p in await app.plans.published())
        chosen = plan or (SEED_PLAN_ID if SEED_PLAN_ID in ids else ids[0])
        for period in ("2025-05", "2025-06") if chosen == SEED_PLAN_ID else ():
            await app.rollups.produce(chosen, period, scheduled=True)  # the seed's report months
        return chosen, await demo_tokens(app, "planwatch screenshots", chosen)

    plan_id, tokens = with_app(prepare)
    token = next(t for who, t in tokens.items() if who != "admin") if len(tokens) > 1 else tokens["admin"]
    with running(stack_env(redis_url, url), settings.home.absolute() / "logs") as stack:
        stack.start("screenshots-api", "api", "--port", url.rsplit(":", 1)[1])
        stack.start("screenshots-worker", "worker", "--no-notify")
        stack.wait_healthy(url)
        _wait(lambda: with_app(caught_up))
        written = take_screenshots(url, token, plan_id, out, indicator, progress=lambda name: console.print(name))
    with_app(lambda app: _revoke(app, "planwatch screenshots"))
    for path in written:
        console.print(str(path), highlight=False)


def _wait(check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise fail("the worker did not catch up within a minute")
        time.sleep(0.3)


async def _revoke(app: App, name: str) -> None:
    for token in await app.access.list_tokens():
        if token.name.startswith(name) and not token.revoked:
            await app.access.revoke_token(token.id)
