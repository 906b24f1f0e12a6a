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
