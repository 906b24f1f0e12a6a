"""What every benchmark shares: a key prefix of its own, deleted afterwards, how it names the
Redis server it measured, and planwatch processes started against that server and prefix."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from redis.asyncio import Redis

from services.settings import Settings
from services.store import Keyspace, connect

ROOT = Path(__file__).resolve().parent.parent


def bench_keyspace() -> Keyspace:
    return Keyspace(f"bench{uuid.uuid4().hex[:8]}")


async def drop(redis: Redis, keys: Keyspace) -> None:
    async for key in redis.scan_iter(match=f"{keys.prefix}:*", count=1000):
        await redis.unlink(key)


@asynccontextmanager
async def bench_redis() -> AsyncIterator[tuple[str, Redis, Keyspace]]:
    """(url, connection, key prefix): planwatch's Redis under a prefix of the run's own, whose
    keys are deleted afterwards."""
    url = Settings.from_env().redis_target()
    redis = connect(url)
    keys = bench_keyspace()
    try:
        yield url, redis, keys
    finally:
        await drop(redis, keys)
        await redis.aclose()


def spawn(url: str, keys: Keyspace, *command: str, log: Path | None = None) -> subprocess.Popen:
    """`planwatch COMMAND…` as a process of its own, on the benchmark's server and key prefix;
    its log (stderr) to `log`, or nowhere."""
    env = {**os.environ, "PLANWATCH_REDIS_URL": url, "PLANWATCH_KEY_PREFIX": keys.prefix}
    with open(log, "ab") if log else open(os.devnull, "wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "services", *command],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=10)


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_name(url: str) -> str:
    return "embedded" if url.startswith("unix://") else url
