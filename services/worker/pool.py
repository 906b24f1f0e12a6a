"""`planwatch worker --processes N`: N worker processes under one command, one core each.

One worker process runs its projections on one event loop, so one core: at a thousand plans on
one process the loop was busy ~85 % of the time and an append waited behind the others (p99
254–703 ms); on two processes and two cores, 31–267 ms in most runs (bench/README.md). The
processes are ordinary workers — each with its own id, leases, inbox consumer and notifier — and
split the plans as separate workers do (services.projection.supervisor: fair shares by
heartbeat), so nothing here knows about plans.

The parent only keeps them running: a process that exits is started again (after 1 s, doubling
up to 30 s while it keeps failing), and SIGTERM or SIGINT is passed on to every process, which
lets go of its leases and exits; one still running after `grace_s` is killed. Should the parent
itself be killed, its processes are sent SIGTERM by the kernel (Linux), so none runs on unwatched.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType

log = logging.getLogger("planwatch.worker.pool")

FIRST_RESTART_S = 1.0
LONGEST_RESTART_S = 30.0
HEALTHY_AFTER_S = 60.0  # a process that ran this long failed anew: its next restart waits 1 s again
POLL_S = 0.2


@dataclass
class _Child:
    number: int  # 1..N: its place in the pool, and the suffix of its worker id
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    restart_at: float = 0.0  # when a process that exited is started again
    delay_s: float = FIRST_RESTART_S


class WorkerPool:
    """Runs `count` copies of a worker command, `arguments_of(number)` giving each its options."""

    def __init__(self, count: int, arguments_of: WorkerArguments, grace_s: float = 30.0) -> None:
        self.children = [_Child(number) for number in range(1, count + 1)]
        self.arguments_of, self.grace_s = arguments_of, grace_s
        self._stopping = False

    def run(self) -> int:
        """Until SIGTERM or SIGINT; then stop every process. Returns the exit code (0)."""
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            log.info("running %d worker processes", len(self.children))
            while not self._stopping:
                for child in self.children:
                    self._keep_running(child)
                time.sleep(POLL_S)
            self._stop_all()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def _keep_running(self, child: _Child) -> None:
        now = time.monotonic()
        if child.process is None:
            if now >= child.restart_at:
                self._start(child)
            return
        code = child.process.poll()
        if code is None:
            return
        ran = now - child.started
        child.delay_s = FIRST_RESTART_S if ran >= HEALTHY_AFTER_S else min(child.delay_s * 2, LONGEST_RESTART_S)
        child.process, child.restart_at = None, now + child.delay_s
        log.warning(
            "worker process %d exited with code %d after %.0f s; starting it again in %.0f s",
            child.number,
            code,
            ran,
            child.delay_s,
        )

    def _start(self, child: _Child) -> None:
        command = [sys.executable, "-m", "services", "worker", *self.arguments_of(child.number)]
        # preexec_fn is unsafe only in a process with threads; the pool runs none
        child.process = subprocess.Popen(command, preexec_fn=_end_with_parent)
        child.started = time.monotonic()
        log.info("worker process %d started (pid %d)", child.number, child.process.pid)

    def _stop_all(self) -> None:
        running = [child.process for child in self.children if child.process is not None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for process in running:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker process pid %d still ran %.0f s after SIGTERM: killed", process.pid, self.grace_s)
                process.kill()
                process.wait()
        log.info("all %d worker processes stopped", len(running))


def _end_with_parent() -> None:
    """In a new worker process, before it runs: be sent SIGTERM when the pool's process dies, even
    by SIGKILL, instead of running on unsupervised (Linux's PR_SET_PDEATHSIG; elsewhere nothing)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1


class WorkerArguments:
    """The options of the pool's processes: the pool's own, with a worker id and a metrics port
    of each process's own (`--worker-id ID` gives ID-1, ID-2…; `--metrics-port P` gives P, P+1…)."""

    def __init__(self, options: Sequence[str], worker_id: str | None, metrics_port: int | None) -> None:
        self.options, self.worker_id, self.metrics_port = list(options), worker_id, metrics_port

    def __call__(self, number: int) -> list[str]:
        arguments = [*self.options, "--processes", "1"]
        if self.worker_id is not None:
            arguments += ["--worker-id", f"{self.worker_id}-{number}"]
        if self.metrics_port is not None:
            arguments += ["--metrics-port", str(self.metrics_port + number - 1)]
        return arguments
