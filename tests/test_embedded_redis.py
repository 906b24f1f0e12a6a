"""The embedded Redis: started on demand, shared by processes, and durable through AOF."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from services.store import EmbeddedRedis, EventStore, Keyspace, connect
from tests.factories import gdp_update


def _pid(server: EmbeddedRedis) -> int:
    return int(server.pidfile.read_text())


async def test_acknowledged_events_survive_a_killed_server(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "home")
    url = server.ensure_running()
    try:
        redis = connect(url)
        store = EventStore(redis, Keyspace("pw"))
        events = [gdp_update("aof-2025", f"5.{i}") for i in range(5)]
        written = await store.append(events)
        await redis.aclose()

        os.kill(_pid(server), signal.SIGKILL)  # no shutdown, no final save: only the AOF remains
        assert (tmp_path / "home" / "appendonly.aof").exists() or (tmp_path / "home" / "appendonlydir").exists()
        server.ensure_running()

        redis = connect(url)
        store = EventStore(redis, Keyspace("pw"))
        assert [s.position for s in await store.read("aof-2025")] == written.positions
        assert (await store.append(events)).all_duplicates  # the dedup index survived too
        await redis.aclose()
    finally:
        server.stop()


def test_cli_starts_and_stops_the_embedded_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PLANWATCH_REDIS_URL"}
    env["PLANWATCH_HOME"] = str(tmp_path / "home")
    planwatch = [sys.executable, "-m", "services"]

    def run(*args: str) -> str:
        return subprocess.run([*planwatch, *args], env=env, capture_output=True, text=True, check=True).stdout

    assert "not running" in run("redis", "status")
    assert "unix://" in run("redis", "start")
    assert run("redis", "status").startswith("running")
    assert "stopped" in run("redis", "stop")
    assert "not running" in run("redis", "status")


def test_concurrent_starts_share_one_server(tmp_path: Path) -> None:
    home = tmp_path / "home"
    code = f"from services.store.connection import EmbeddedRedis; print(EmbeddedRedis({str(home)!r}).ensure_running())"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(4)]
    urls = {p.communicate(timeout=30)[0].strip() for p in procs}
    server = EmbeddedRedis(home)
    try:
        assert urls == {server.url}
        assert server.is_running()
    finally:
        server.stop()


def test_a_stopped_server_is_not_started_behind_the_operators_back(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PLANWATCH_REDIS_URL"}
    env["PLANWATCH_HOME"] = str(tmp_path / "home")
    planwatch = [sys.executable, "-m", "services"]

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*planwatch, *args], env=env, capture_output=True, text=True)

    try:
        assert run("redis", "start").returncode == 0
        assert run("redis", "cli", "PING").stdout.strip() == "PONG"  # the bundled redis-cli, on the socket
        assert "stopped" in run("redis", "stop").stdout
        refused = run("status")
        assert refused.returncode == 1 and "was stopped" in refused.stderr and "planwatch redis start" in refused.stderr
        assert run("worker").returncode == 1
        assert "not running" in run("redis", "status").stdout  # nothing started it again
        assert run("redis", "start").returncode == 0
        assert run("status").returncode == 0
    finally:
        EmbeddedRedis(tmp_path / "home").stop(on_purpose=False)


def test_the_readme_inbox_example_works_as_written(tmp_path: Path) -> None:
    """The README's `planwatch redis cli XADD pw:inbox …` line, run by a shell against the embedded
    server, with a real UUID: a worker stores the event, nothing is rejected."""
    import asyncio
    import re
    import time

    from services.store import TokenStore
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text()
    example = re.search(r"^planwatch redis cli XADD pw:inbox .*?value 5\.7$", readme, re.M | re.S)
    assert example is not None
    env = {k: v for k, v in os.environ.items() if k not in ("PLANWATCH_REDIS_URL", "PLANWATCH_KEY_PREFIX")}
    env["PLANWATCH_HOME"] = str(tmp_path / "home")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # `planwatch` as installed
    server = EmbeddedRedis(tmp_path / "home")
    worker = None
    try:
        url = server.ensure_running()
        subprocess.run(
            [sys.executable, "-m", "services", "plan", "publish", str(ROOT / "plans" / "rongchang-2025.yaml")],
            env=env, check=True, capture_output=True,
        )  # fmt: skip

        async def token() -> str:
            redis = connect(url)
            try:
                return (await TokenStore(redis, Keyspace("pw")).create("department", "stats"))[0]
            finally:
                await redis.aclose()

        env["TOKEN"] = asyncio.run(token())
        added = subprocess.run(["bash", "-c", example.group(0)], env=env, capture_output=True, text=True)
        assert added.returncode == 0 and re.match(r"^\d+-\d+$", added.stdout.strip()), added.stdout + added.stderr
        worker = subprocess.Popen([sys.executable, "-m", "services", "worker"], env=env, stderr=subprocess.DEVNULL)
        store_length = [sys.executable, "-m", "services", "redis", "cli", "XLEN", "pw:{rongchang-2025}:events"]
        deadline = time.monotonic() + 20
        while subprocess.run(store_length, env=env, capture_output=True, text=True).stdout.strip() != "2":
            assert time.monotonic() < deadline, "the inbox message was not stored"
            time.sleep(0.2)
        rejects = subprocess.run(
            [*store_length[:-2], "XLEN", "pw:inbox:rejects"], env=env, capture_output=True, text=True
        )
        assert rejects.stdout.strip() == "0"
    finally:
        if worker is not None:
            worker.kill()
            worker.wait(timeout=10)
        server.stop(on_purpose=False)
