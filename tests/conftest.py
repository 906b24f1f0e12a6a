"""Shared fixtures. Every test talks to a real Redis server: the embedded one started for the
session, or PLANWATCH_TEST_REDIS_URL. Each test gets its own key prefix and deletes its keys,
so the suite can share a server with anything else."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from events.keys import Keyspace
from events.store import EventStore
from services.redis_server import EmbeddedRedis, connect

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("PLANWATCH_TEST_REDIS_URL")
    if url:
        yield url
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    yield server.ensure_running()
    server.stop()


@pytest.fixture
def keys() -> Keyspace:
    return Keyspace(prefix=f"t{uuid.uuid4().hex[:12]}")


@pytest.fixture
async def redis(redis_url: str, keys: Keyspace) -> AsyncIterator[Redis]:
    client = connect(redis_url)
    yield client
    async for key in client.scan_iter(match=f"{keys.prefix}:*", count=1000):
        await client.unlink(key)
    await client.aclose()


@pytest.fixture
def store(redis: Redis, keys: Keyspace) -> EventStore:
    return EventStore(redis, keys)


@pytest.fixture
def cli_env(redis_url: str, keys: Keyspace) -> dict[str, str]:
    """Environment for planwatch subprocesses: the test's server and key prefix."""
    return {**os.environ, "PLANWATCH_REDIS_URL": redis_url, "PLANWATCH_KEY_PREFIX": keys.prefix}
