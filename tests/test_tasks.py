"""Stopping tasks for good (services/tasks.py): what one cancellation may leave running ends."""

from __future__ import annotations

import asyncio

from services.store import Keyspace, connect
from services.tasks import cancel_and_wait, raise_if_cancelled


async def test_a_task_that_swallowed_its_cancellation_is_cancelled_again_until_it_ends() -> None:
    swallowed = asyncio.Event()

    async def deaf_once() -> None:  # what asyncio.wait_for does to its caller on Python 3.11, now and then
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            swallowed.set()
        await asyncio.sleep(3600)

    task = asyncio.create_task(deaf_once())
    await asyncio.sleep(0)
    assert await cancel_and_wait([task], grace_s=60) == []
    assert swallowed.is_set() and task.cancelled()


async def test_a_task_deaf_to_every_cancellation_is_named_and_left_behind() -> None:
    let_go = asyncio.Event()

    async def deaf() -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if let_go.is_set():
                    raise

    stuck = asyncio.create_task(deaf(), name="deaf")
    quiet = asyncio.create_task(asyncio.sleep(3600), name="quiet")
    await asyncio.sleep(0)
    assert await cancel_and_wait([stuck, quiet], grace_s=0.3) == [stuck]
    assert quiet.cancelled() and not stuck.done()
    let_go.set()
    assert await cancel_and_wait([stuck], grace_s=60) == []


async def test_loops_busy_on_redis_end_at_one_cancellation_each(server_url: str, keys: Keyspace) -> None:
    """Tasks looping on a command through a pool of 16 connections, each cancelled once: on
    Python 3.11 those holding a connection swallowed it (redis-py sends through
    asyncio.wait_for) and ran on for good; checking at the top of the loop, every one ends."""
    redis = connect(server_url, 16)
    key = f"{keys.prefix}:probe"

    async def busy() -> None:
        while True:
            raise_if_cancelled()
            await redis.get(key)

    tasks = [asyncio.create_task(busy()) for _ in range(200)]
    try:
        await asyncio.sleep(0.3)
        for task in tasks:
            task.cancel()
        _, running = await asyncio.wait(tasks, timeout=30)
        assert running == set()
        assert all(task.cancelled() for task in tasks)
    finally:
        await cancel_and_wait(tasks, grace_s=5)
        await redis.aclose()
