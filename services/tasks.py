"""Stopping asyncio tasks for good.

One `Task.cancel()` is not enough on Python 3.11, the version planwatch runs on: `asyncio.wait_for`
returns the awaited result instead of raising when what it awaited finished in the same turn of
the loop as the cancellation (CPython gh-86296; `wait_for` was rewritten in 3.12), and redis-py
sends every command through `wait_for` (the socket timeout). A task cancelled at that moment
swallows the cancellation and runs on as if it had never been asked. Of 200 tasks looping on a
GET through a pool of 16 connections, the 16 holding a connection did so at every try; a worker
following 100 plans often never stopped on SIGTERM, waiting for projectors that kept projecting.
So whatever still runs is cancelled again, as anyio's cancel scopes do, until it has ended; and
a loop that runs for the life of the process checks, each time round, whether its task was
asked to stop (`raise_if_cancelled`): a task busy on Redis can be caught in that same moment at
every new cancellation, but not at the top of its loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

AGAIN_S = 0.1  # how often a task that still runs is cancelled again


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], grace_s: float) -> list[asyncio.Task[Any]]:
    """Cancel `tasks` and wait until they have ended, cancelling again every `AGAIN_S` the ones
    still running. Returns those still running after `grace_s` seconds (a task that ignores every
    cancellation): the caller names them and goes on, so that a stuck task cannot keep a worker
    from letting go of its leases. Exceptions of the tasks are not raised (the caller looks at
    a task that had failed before it was cancelled)."""
    tasks = list(tasks)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace_s
    pending = {task for task in tasks if not task.done()}
    while pending and (left := deadline - loop.time()) > 0:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=min(AGAIN_S, left))
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: asyncio would otherwise log it again at garbage collection
    return sorted(pending, key=lambda task: task.get_name())


def raise_if_cancelled() -> None:
    """Raise `CancelledError` if the current task was asked to stop, even if the cancellation was
    swallowed on the way (`Task.cancelling()` still counts it: only `asyncio.timeout` and task
    groups take back a cancellation, their own). Call it at the top of a long-running loop."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
