"""Shared fixtures. Every test talks to a real Redis server: the embedded one started for the
session, or PLANWATCH_TEST_REDIS_URL. Each test gets its own key prefix and deletes its keys,
so the suite can share a server with anything else.

Tests marked `cluster` run twice: on that server and on a 3-master Redis Cluster started on
loopback for the session (tests/cluster.py; or PLANWATCH_TEST_CLUSTER_URL=redis+cluster://…), through
redis-py's RedisCluster — which refuses any command or script whose keys would span slots."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis

from services.settings import Settings
from services.store import EmbeddedRedis, EventStore, Keyspace, connect, is_cluster_url, plain_url

ROOT = Path(__file__).resolve().parent.parent

# The suite's HTTP receivers listen on loopback: allowed as an operator allows an intranet (in this
# process and the planwatch processes tests start). Link-local and metadata addresses stay refused.
os.environ.setdefault("PLANWATCH_ALLOW_PRIVATE_TARGETS", "127.0.0.0/8,::1/128")
# Workers the tests start write a projection's whole state each time they are caught up (not at
# most every 30 s), so a test can compare it with a fold at once; test_projector.py tests the interval.
os.environ.setdefault("PLANWATCH_STATE_SAVE_S", "0")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("PLANWATCH_TEST_REDIS_URL")
    if url:
        yield url
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    yield server.ensure_running()
    server.stop()


@pytest.fixture(scope="session")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("PLANWATCH_TEST_CLUSTER_URL")
    if url:
        yield url
        return
    from tests.cluster import LocalCluster

    cluster = LocalCluster(tmp_path_factory.mktemp("cluster")).start()
    yield cluster.url
    cluster.stop()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked `cluster` runs on the standalone server and on the Cluster."""
    if metafunc.definition.get_closest_marker("cluster") and "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", ["standalone", "cluster"], indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "standalone")


@pytest.fixture
def server_url(backend: str, request: pytest.FixtureRequest) -> str:
    """The URL the test's planwatch uses: the standalone server, or the Cluster."""
    return request.getfixturevalue("cluster_url" if backend == "cluster" else "redis_url")


@pytest.fixture
def keys(server_url: str) -> Iterator[Keyspace]:
    """A key prefix of the test's own; every key under it is deleted afterwards, whoever wrote it
    (the test, a CLI subprocess, a worker process)."""
    keyspace = Keyspace(prefix=f"t{uuid.uuid4().hex[:12]}")
    yield keyspace
    drop_prefix(server_url, keyspace)


@pytest.fixture
def other_keys(server_url: str) -> Iterator[Keyspace]:
    """A second installation on the same server: another key prefix, empty (a restore's target)."""
    keyspace = Keyspace(prefix=f"r{uuid.uuid4().hex[:12]}")
    yield keyspace
    drop_prefix(server_url, keyspace)


def drop_prefix(redis_url: str, keys: Keyspace) -> None:
    """Delete every key under the prefix, whoever wrote it (on a Cluster: on every node)."""
    if is_cluster_url(redis_url):
        from redis.cluster import RedisCluster

        cluster = RedisCluster.from_url(plain_url(redis_url))
        try:
            for key in cluster.scan_iter(match=f"{keys.prefix}:*", count=1000):
                cluster.unlink(key)
        finally:
            cluster.close()
        return
    sync = SyncRedis.from_url(redis_url)
    try:
        for key in sync.scan_iter(match=f"{keys.prefix}:*", count=1000):
            sync.unlink(key)
    finally:
        sync.close()


def planwatch(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`planwatch ARGS…` as a process of its own on the test's Redis and prefix (`env`), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "services", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def one_line(text: str) -> str:
    """Output with rich's and click's box drawing and line wrapping undone."""
    return " ".join(re.sub("[│╭╮╰╯─]", " ", text).split())


def stored_keys(redis_url: str, keys: Keyspace) -> list[bytes]:
    """Every key under the test's prefix (a refusal must leave none)."""
    sync = SyncRedis.from_url(redis_url)
    try:
        return list(sync.scan_iter(match=f"{keys.prefix}:*", count=1000))
    finally:
        sync.close()


@asynccontextmanager
async def api_client(redis: Redis, keys: Keyspace, token: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """The real ASGI app on the test's Redis and key prefix, through httpx (as `token`, if given)."""
    from services.api import create_api

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=create_api(redis=redis, keys=keys))
    async with httpx.AsyncClient(transport=transport, base_url="http://planwatch", headers=headers) as http:
        yield http


@pytest.fixture
async def redis(server_url: str, keys: Keyspace) -> AsyncIterator[Redis]:
    connection = connect(server_url)
    yield connection
    await connection.aclose()


@pytest.fixture
def store(redis: Redis, keys: Keyspace) -> EventStore:
    return EventStore(redis, keys)


@pytest.fixture
def cli_env(server_url: str, keys: Keyspace) -> dict[str, str]:
    """Environment for planwatch subprocesses: the test's server and key prefix."""
    return {**os.environ, "PLANWATCH_REDIS_URL": server_url, "PLANWATCH_KEY_PREFIX": keys.prefix}


async def eventually(check, timeout: float = 10.0, interval: float = 0.05):
    """Poll an async (or sync) check until it returns something truthy; fail after `timeout`."""
    import asyncio
    import inspect
    import time

    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)


# real local HTTP receivers for the alert channels (tests/receivers.py)


LOOPBACK = Settings.from_env().allow_private_targets  # what the suite's operator allows (above)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def api_url(cli_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """`planwatch api` as a process of its own, on a free port, against the test's Redis and
    prefix; fails the test if the server logged a traceback."""
    port, log_path = free_port(), tmp_path / "api.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "services", "api", "--port", str(port)],
        env=cli_env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy(url, log_path)
    yield url
    proc.terminate()
    proc.wait(timeout=10)
    log.close()
    assert "Traceback" not in log_path.read_text(), log_path.read_text()[-3000:]


def wait_until_healthy(url: str, log_path: Path, timeout: float = 40) -> None:
    """Until the API at `url` answers /healthz; fails with the end of its log otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/healthz", trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log_path.read_text()[-3000:]
        time.sleep(0.1)


class Workers:
    """`planwatch worker` processes on the test's Redis and prefix, each logging to a file."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs, self.procs = env, logs, {}

    def start(self, worker_id: str, lease_ttl: float = 1.0) -> subprocess.Popen:
        return self.start_with(worker_id, "--lease-ttl", str(lease_ttl))

    def start_with(self, worker_id: str, *options: str) -> subprocess.Popen:
        log = open(self.logs / f"{worker_id}-{time.monotonic_ns()}.log", "w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "services", "worker", "--worker-id", worker_id, *options],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs[worker_id] = proc
        return proc

    def kill(self, worker_id: str) -> None:
        proc = self.procs.pop(worker_id)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def terminate(self, worker_id: str, within: float) -> int:
        """SIGTERM, as `docker stop` sends; the exit code. Fails the test (after a SIGKILL) when the
        worker has not exited within `within` seconds."""
        proc = self.procs.pop(worker_id)
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=within)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            raise AssertionError(f"worker {worker_id} still ran {within:.0f} s after SIGTERM") from None

    def stop_all(self) -> None:
        for worker_id in list(self.procs):
            self.kill(worker_id)


@pytest.fixture
def workers(cli_env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    """Started workers are SIGKILLed at the end of the test, whatever happened."""
    pool = Workers(cli_env, tmp_path)
    yield pool
    pool.stop_all()


from tests.receivers import client, receiver  # noqa: E402, F401
