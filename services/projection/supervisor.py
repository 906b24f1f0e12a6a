"""Partitioning: which worker runs which projection of which plan.

The unit of work is one projection of one plan (its read model, or its alerts): each has a lease
key holding the id of the worker running it, with an expiry the holder renews each tick. A worker
takes free leases up to its fair share (units / live workers, live = heartbeat in the last lease
period), so the units spread over workers — two workers split even a single plan, one running its
read model and the other its alerts. When a worker dies its leases expire and the others take its
units within about one lease period. The lease also fences writes: a projector's commit checks it,
so a worker that stalls past its lease can never overwrite the new holder's work.

Handing over (a worker joining, one leaving): a worker above its share *offers* its excess
(services/store/lease.py `Offers`) and goes on running it; a worker below its share takes free
leases at once (nobody runs those), and offered ones from their holder only as fast as it brings
units current (loaded and caught up): about a second's worth at its recent rate, and half as
many again (`taking_window`), taking more as soon as half of those are current, not at its next
tick.
A takeover costs tens of ms of CPU a unit; a thousand units released at once left the plans loaded
last without anyone running them for 20–40 s. A worker asked to stop (SIGTERM) leaves the live
workers, offers everything and runs it until taken, for up to `hand_over_s`, then lets go of the
rest.

Connections stay bounded whatever the number of plans: a projector reads without blocking, and
when it has read everything it waits on the worker's one wake-up subscription (wakeup.py), not
in an XREAD BLOCK of its own. Heartbeat, taking and letting go of leases, and the clock go
through `control`, a client of their own; the renewals run on a thread with a connection of its
own (`LeaseKeeper`), so a thousand busy projectors holding the event loop cannot starve them.

Stopping (`close`, on SIGTERM): the supervisor ends its loop, cancels every projector — again and
again until each has ended, since on Python 3.11 one cancellation can be swallowed (services/tasks.py)
— and lets go of all its leases in one round trip, so another worker takes its plans at its next
tick instead of after the leases expire. A projector cancelled mid-commit commits all or nothing:
each commit is one fenced Lua call.

Every few seconds the supervisor reports, for the units it holds, each one's lag, checkpoint age
and dead letters to the metrics (services.observability).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections import defaultdict

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.observability import metrics, plan_context
from services.projection.kinds import PROJECTIONS, Projection
from services.projection.runner import GenerationChanged, LeaseLost, Projector
from services.projection.status import report_progress
from services.projection.wakeup import Wakeup
from services.store import (
    Announcements,
    DamagedKey,
    EventStore,
    Keyspace,
    Lease,
    LeaseKeeper,
    Offers,
    client_name,
    drop_damaged,
    redis_now_ms,
)
from services.tasks import cancel_and_wait, raise_if_cancelled

log = logging.getLogger("planwatch.supervisor")

Unit = tuple[str, str]  # (plan id, projection name): what one lease covers


async def take_leases(lease: Lease, keys: list[str]) -> list[bool]:
    """`Lease.hold_many`; a lease key holding another Redis type (written by hand, or damaged: no
    worker's lease) is dropped, with a warning, and taken — it would stop every lease of the batch."""
    for _ in range(len(keys)):
        try:
            return await lease.hold_many(keys)
        except DamagedKey as damage:
            if damage.key not in keys:
                raise
            await drop_damaged(lease.redis, damage, "a lease no worker holds: taken again")
    return await lease.hold_many(keys)


_BY_NAME = {projection.name: projection for projection in PROJECTIONS}
PROJECTOR_GRACE_S = 5.0  # a projector still running this long after its cancellation is left behind
# units per metrics round trip; the event loop runs the projectors in between. Building and
# reading a unit's five commands takes ~0.1 ms of CPU: 100 a chunk held the loop ~10 ms, 20 ~2 ms
REPORT_CHUNK = 20
FULL_REPORT_S = 60.0  # every unit's metrics read again, moved or not
BURST_S = 1.0  # a projector woken again within this lingers: more of a burst is likely on its way
MIN_TAKING = 4  # units taken and not current yet that a worker always allows itself
TAKING_HEADROOM = 1.5  # units in flight, per unit it brings current in…
TAKING_HORIZON_S = 1.0  # … this long at its recent rate
TAKING_AGAIN_S = 0.1  # the least time between two rounds of taking
JOINING_TICKS = 10  # a unit taken and not current after this many ticks (failing, say) holds no others back


def linger_for(woken_at: float, woken_before: float, linger_s: float) -> float:
    """How long a woken projector waits before reading. While its plan's events keep coming (the
    previous wake-up less than `BURST_S` ago) a moment, so several are read and committed together:
    a commit's cost is mostly fixed. After a quiet spell (a province's plans hear from a department
    every few seconds) not at all: there is nothing to gather, and the event would only be later."""
    return linger_s if woken_at - woken_before < BURST_S else 0.0


def taking_window(rate: float) -> int:
    """How many units a worker may have taken and not brought current yet (loaded, and caught up
    with their logs): what it brings current in about a second at its recent `rate` (units a
    second), and half as many again; at least `MIN_TAKING`. What a worker can take on shows in
    what it completes, whatever a unit costs it: while all it took comes current, the rate
    measured and the window grow; once they do not, it takes what it completes, and a unit taken
    waits about a second and a half at most for its turn."""
    return max(MIN_TAKING, math.ceil(TAKING_HEADROOM * rate * TAKING_HORIZON_S))


class ProjectionSupervisor:
    def __init__(
        self,
        redis: Redis,
        keys: Keyspace,
        worker_id: str,
        *,
        lease_url: str,
        control: Redis | None = None,
        wakeup: Redis | None = None,
        lease_ttl_ms: int = 5000,
        tick: float = 1.0,
        idle_s: float = 1.0,
        poll_s: float = 30.0,
        max_attempts: int = 3,
        linger_ms: int = 10,
        metrics_every_s: float = 5.0,
        concurrency: int = 8,
        snapshot_every: int | None = None,
        state_save_s: float = 0.0,
        hand_over_s: float = 0.0,
    ) -> None:
        """`redis` serves the projectors; `control` (default: `redis`) the heartbeat, the leases and
        the clock; `wakeup` (default: `redis`) holds the connection of the
        process's one subscription (the wake-ups, and the notifier's outbox news when it runs beside).
        A projector with nothing to read waits for a wake-up until the clock brings it something
        to judge (an open instant after `idle_s` of quiet, a deadline, a silence's end) or, at the
        latest, for half to all of `poll_s` (spread), then reads anyway: a notice can be missed.
        At most `concurrency` projectors talk to Redis at once (a Cluster client's pool refuses,
        rather than queues, a command beyond its size), half of them read models and half alerts:
        a read model's commit, what readers wait for, never queues behind the alerts' judging;
        and one more of each loads (a projector taken over). `state_save_s`: see `Projector`.
        `lease_url`: the Redis the leases are renewed on, from a thread with a connection of its
        own (`LeaseKeeper`). `hand_over_s`: how long a worker asked to stop goes on running what
        it offered to the others, until they take it."""
        self.redis, self.keys, self.worker_id = redis, keys, worker_id
        self.control = control or redis
        self.lease = Lease(self.control, worker_id, lease_ttl_ms)
        self.offers = Offers(self.control, keys.lease_offers, worker_id)
        self.hand_over_s = hand_over_s
        self._offered: set[str] = set()  # the lease keys this worker offers
        self._joining: dict[Unit, float] = {}  # units taken and not current yet (loaded, caught up): when taken
        self._brought_current = 0  # units that became current since the rate was measured…
        self._measured_at = time.monotonic()  # … then
        self._rate = 0.0  # units brought current a second, lately
        self._window = MIN_TAKING  # units it may have taken and not brought current
        self._wanting = False  # whether it holds less than its share
        self._live_workers: set[str | None] = set()  # as of the last heartbeat
        self._wake = asyncio.Event()  # set to take more, or to close, before the next tick
        self.keeper = LeaseKeeper(
            lease_url,
            worker_id,
            lease_ttl_ms,
            self._leases_lost,
            every_s=tick,
            client_name=client_name(worker_id, "leases"),
        )
        self._lost: set[str] = set()  # lease keys the keeper found gone, dropped at the next tick
        self.lease_ttl_ms, self.tick, self.idle_s, self.max_attempts = lease_ttl_ms, tick, idle_s, max_attempts
        self.poll_s = poll_s
        self.linger_ms, self.metrics_every_s = linger_ms, metrics_every_s
        self.snapshot_every, self.state_save_s = snapshot_every, state_save_s
        self.tasks: dict[Unit, asyncio.Task[None]] = {}
        self.projectors: dict[Unit, Projector] = {}
        self.store = EventStore(self.control, keys)
        # the process's one subscription: the projectors' wake-ups, and what else is added before run()
        self.announcements = Announcements(wakeup or redis)
        self.wakeup = Wakeup(self.announcements, keys)
        self.clock_ms = 0  # Redis' clock at the last tick: the idle projectors judge up to it
        self._next_report = self._next_full_report = 0.0
        self._reported: dict[Unit, str] = {}  # unit → its position at its last metrics report
        slots = max(concurrency // len(PROJECTIONS), 1)
        self._working = {projection.name: asyncio.Semaphore(slots) for projection in PROJECTIONS}
        # idle work (the clock's judgement, a state to write) takes at most half of them: the
        # projectors reading what was just appended never wait behind a thousand state saves
        self._idling = {projection.name: asyncio.Semaphore(max(slots // 2, 1)) for projection in PROJECTIONS}
        # a projector taken over loads its state and replays what came after it (tens of ms, mostly
        # CPU) one at a time per projection, outside the slots above: a worker taking over a
        # thousand units at once had every running plan queue behind their loads (p50 25 s)
        self._loading = {projection.name: asyncio.Semaphore(1) for projection in PROJECTIONS}
        self._closing = asyncio.Event()

    @property
    def plans(self) -> list[str]:
        """The plans of which this worker runs at least one projection."""
        return sorted({plan for plan, _ in self.tasks})

    @property
    def units(self) -> list[Unit]:
        return sorted(self.tasks)

    async def run(self) -> None:
        """Keep leases and projector tasks in line until `close()` (or cancelled); then stop every
        projector and let go of every lease."""
        listening = asyncio.create_task(self.announcements.run(), name="announcements")
        self.keeper.start()
        try:
            while not self._closing.is_set():
                try:
                    await self.balance()
                    await self._report()
                    metrics.REDIS_UP.set(1)
                except RedisError as exc:  # Redis away: keep trying, the leases will tell
                    metrics.REDIS_UP.set(0)
                    log.warning("supervisor %s: %s", self.worker_id, exc)
                await self._pause()
            await self._hand_over()  # asked to stop, not cancelled
        finally:
            try:
                await self.stop()  # first: the leases matter more than the wake-up subscription
            finally:
                await cancel_and_wait([listening], 1.0)

    def close(self) -> None:
        """Ask `run()` to end: it stops its projectors, lets go of its leases and returns. Not a
        cancellation, which would interrupt that clean-up (and may be swallowed, services/tasks.py)."""
        log.info("worker %s stopping its %d projectors", self.worker_id, len(self.tasks))
        self._closing.set()
        self._wake.set()

    async def _pause(self) -> None:
        """Until the next tick, or until asked to close, or (`TAKING_AGAIN_S` at least after the
        last round) until there is room to take more units."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.tick):
                await self._wake.wait()
        woken = self._wake.is_set()
        self._wake.clear()
        if woken and not self._closing.is_set():  # room to take more: not again at once
            await asyncio.sleep(TAKING_AGAIN_S)

    async def balance(self) -> None:
        live = await self._heartbeat()
        # projection-major order: with two workers and one plan, one takes the read model, the other the alerts
        units = [(plan, projection.name) for projection in PROJECTIONS for plan in await self.store.plans()]
        share = math.ceil(len(units) / live)
        self.keeper.beat()
        await self._drop_ended()
        excess = len(self.tasks) - share
        await self._offer(sorted(self.tasks)[-excess:] if excess > 0 else [])
        room = self._room()
        if len(self.tasks) < share:
            await self._take([unit for unit in units if unit not in self.tasks], share - len(self.tasks), room)
        self._wanting = len(self.tasks) < share

    def _room(self) -> int:
        """How many more units to take now: `taking_window`, less those taken and not current yet."""
        now = time.monotonic()
        if self._brought_current or self._joining:  # units were coming current: the rate shows what it can do
            measured = self._brought_current / max(now - self._measured_at, 0.001)
            self._rate = (self._rate + measured) / 2 if self._rate else measured
        self._brought_current, self._measured_at = 0, now
        since = now - JOINING_TICKS * self.tick
        self._joining = {unit: taken for unit, taken in self._joining.items() if taken > since}
        self._window = taking_window(self._rate)
        return self._window - len(self._joining)

    async def _offer(self, units: list[Unit]) -> None:
        """Offer exactly `units` to the other workers (withdraw what else this worker offered)."""
        wanted = {self._lease_key(unit) for unit in units}
        await self.offers.offer(sorted(wanted - self._offered))
        await self.offers.withdraw(sorted(self._offered - wanted))
        self._offered = wanted

    async def _hand_over(self) -> None:
        """Leaving: no longer counted among the live workers, offer every unit and run each until
        another worker takes it, for up to `hand_over_s` (`stop` lets go of the rest). Not when
        no other worker is live: nobody would take them."""
        if not self.tasks or self.hand_over_s <= 0:
            return
        deadline = time.monotonic() + self.hand_over_s
        try:
            await self.control.zrem(self.keys.workers, self.worker_id)
            await self._offer(list(self.tasks))
            given = len(self.tasks)
            while self.tasks and time.monotonic() < deadline and await self._others_live():
                self.keeper.beat()
                await self._drop_ended()
                await asyncio.sleep(min(self.tick, max(deadline - time.monotonic(), 0)))
            log.info("worker %s handed %d of its %d units over", self.worker_id, given - len(self.tasks), given)
        except RedisError as exc:
            log.warning("worker %s could not hand its units over: %s", self.worker_id, exc)

    async def _others_live(self) -> bool:
        now = int(time.time() * 1000)
        return bool(await self.control.zcount(self.keys.workers, now - self.lease_ttl_ms, "+inf"))

    async def _heartbeat(self) -> int:
        """Say we are alive, forget the workers that are not; the number of live workers. Reads
        Redis' clock too."""
        now = int(time.time() * 1000)
        await self.control.zadd(self.keys.workers, {self.worker_id: now})
        await self.control.zremrangebyscore(self.keys.workers, 0, now - self.lease_ttl_ms)
        self.clock_ms = await redis_now_ms(self.control)
        self._live_workers = {str(worker) for worker in await self.control.zrange(self.keys.workers, 0, -1)}
        return max(len(self._live_workers), 1)

    def _leases_lost(self, keys: list[str]) -> None:
        self._lost.update(keys)

    async def _drop_ended(self) -> None:
        """Drop the units whose projector ended or whose lease the keeper found gone."""
        lost, self._lost = self._lost, set()
        ended = [unit for unit, task in self.tasks.items() if task.done() or self._lease_key(unit) in lost]
        if ended:
            await self._drop(*ended)

    async def _take(self, candidates: list[Unit], wanted: int, room: int) -> None:
        """Take up to `wanted` units: free ones (nobody runs them: all at once, loaded one after
        another), then, as far as `room` goes, those offered by their holder (the holders read in
        one round trip, the offers in another, taken in a third)."""
        async with self.control.pipeline(transaction=False) as pipe:
            for unit in candidates:
                pipe.get(self._lease_key(unit))
            holders = await pipe.execute()
        # free, then held by no live worker: a lease written by hand (without the expiry every
        # holder sets) is taken by hold_many; a dead worker's is refused until it expires
        free = [unit for unit, holder in zip(candidates, holders, strict=True) if holder is None]
        running = self._live_workers | {None}
        free += [unit for unit, holder in zip(candidates, holders, strict=True) if holder not in running]
        free = free[:wanted]
        taken = await take_leases(self.lease, [self._lease_key(unit) for unit in free])
        started = [unit for unit, ours in zip(free, taken, strict=True) if ours]
        if min(wanted, room) > len(started):
            started += await self._take_offered(candidates, holders, min(wanted, room) - len(started))
        for unit in started:
            self._start(unit)
        self.keeper.hold([self._lease_key(unit) for unit in started])

    async def _take_offered(self, candidates: list[Unit], holders: list[str | None], wanted: int) -> list[Unit]:
        """Take up to `wanted` of the units their holders offer; clear the offers answered, and
        those of a worker that no longer holds the lease (it let go, or died)."""
        standing = await self.offers.standing()
        if not standing:
            return []
        offered: list[tuple[Unit, str]] = []
        answered: dict[str, list[str]] = defaultdict(list)  # offerer → lease keys whose offer is done with
        for unit, holder in zip(candidates, holders, strict=True):
            key = self._lease_key(unit)
            offerer = standing.get(key)
            if offerer is None or (offerer == holder and len(offered) >= wanted):
                continue  # not offered, or left for a later tick
            if offerer == holder:
                offered.append((unit, offerer))
            answered[offerer].append(key)
        taken = await self.lease.take_offered([(self._lease_key(unit), holder) for unit, holder in offered])
        for offerer, keys in answered.items():
            await self.offers.withdraw(keys, offerer)
        return [unit for (unit, _), ours in zip(offered, taken, strict=True) if ours]

    def _start(self, unit: Unit) -> None:
        self._joining[unit] = time.monotonic()
        self.tasks[unit] = asyncio.create_task(self._follow(*unit), name=f"project:{unit[0]}:{unit[1]}")
        log.info(
            "worker %s runs the %s of %s", self.worker_id, _BY_NAME[unit[1]].label, unit[0], extra={"plan": unit[0]}
        )

    def _lease_key(self, unit: Unit) -> str:
        return self.keys.lease(*unit)

    async def _drop(self, *units: Unit) -> list[asyncio.Task[None]]:
        """Stop the projectors of `units`: all cancelled at once and awaited together (a worker
        stopping with a thousand plans must not wait for them one by one), cancelled again while
        any still runs (services/tasks.py); one that outlives `PROJECTOR_GRACE_S` is named and
        left behind — its lease is released all the same, and the fence refuses its commits."""
        keys = [self._lease_key(unit) for unit in units]
        self.keeper.drop(keys)
        offered, self._offered = self._offered.intersection(keys), self._offered.difference(keys)
        for unit in units:
            self._joining.pop(unit, None)
        tasks = [self.tasks.pop(unit) for unit in units]
        for unit, task in zip(units, tasks, strict=True):
            self.projectors.pop(unit, None)
            self._reported.pop(unit, None)
            metrics.forget_projection(*unit)
            if task.done() and not task.cancelled() and task.exception():
                log.error("projector of %s %s failed", *unit, exc_info=task.exception())
        for task in await cancel_and_wait(tasks, PROJECTOR_GRACE_S):
            log.error("worker %s: %s did not stop within %.0f s", self.worker_id, task.get_name(), PROJECTOR_GRACE_S)
        for plan_id, name in units:
            label = _BY_NAME[name].label
            log.info("worker %s no longer runs the %s of %s", self.worker_id, label, plan_id, extra={"plan": plan_id})
        with contextlib.suppress(RedisError):  # an offer left standing is harmless: a taker sees who holds the lease
            await self.offers.withdraw(sorted(offered))
        return tasks  # the ended tasks: their tracebacks hold the projectors until the caller lets go

    async def _follow(self, plan_id: str, name: str) -> None:
        """Keep one projection of the plan current until the lease is lost or the task cancelled."""
        projection = _BY_NAME[name]
        with plan_context(plan_id):
            try:
                await self._keep_current(plan_id, projection)
            except LeaseLost:
                if self._lease_key((plan_id, name)) in self._offered:  # taken, as offered
                    log.info("worker %s handed the %s of %s over", self.worker_id, projection.label, plan_id)
                else:
                    log.warning("worker %s lost the lease of the %s of %s", self.worker_id, projection.label, plan_id)

    async def _keep_current(self, plan_id: str, projection: Projection) -> None:
        projector = Projector(
            self.redis,
            self.keys,
            plan_id,
            owner=self.worker_id,
            projection=projection,
            max_attempts=self.max_attempts,
            snapshot_every=self.snapshot_every,
            state_save_s=self.state_save_s,
        )
        self.projectors[(plan_id, projection.name)] = projector
        linger_s = projector.strategy.linger_ms(self.linger_ms) / 1000
        working, idling = self._working[projection.name], self._idling[projection.name]
        needs_load, read, woken, delay = True, True, False, 0.5
        woken_at = -math.inf  # the last wake-up (monotonic)
        poll_at = 0.0  # when to read unwoken: a notice can be missed (an entry written by hand)
        while True:
            raise_if_cancelled()  # a cancellation swallowed by a Redis call (services/tasks.py)
            try:
                if read:
                    if needs_load:  # loads queue apart: the projectors running go on meanwhile
                        async with self._loading[projection.name]:
                            await projector.load()
                        needs_load = False
                    async with working:
                        handled = await projector.step()  # never blocks: waiting is the wake-up's
                    if handled:
                        woken = False
                        continue
                    self._is_current((plan_id, projection.name))
                    if woken:  # woken, yet nothing to read: wait for the next notice, not the last one
                        self.wakeup.forget(plan_id)
                    poll_at = time.monotonic() + self.poll_s * random.uniform(0.5, 1.0)  # spread the polls
                woken = await self.wakeup.wait(plan_id, projector.state.position, self._wait_s(projector, poll_at))
                if woken:  # linger before reading (not holding a slot): a burst is then one commit
                    woken_before, woken_at = woken_at, time.monotonic()
                    if lingering := linger_for(woken_at, woken_before, linger_s):
                        await asyncio.sleep(lingering)
                else:  # the clock's judgement, the state to write, or the poll is due
                    async with idling, working:
                        await projector.idle(self.clock_ms or await redis_now_ms(self.redis))
                read = woken or time.monotonic() >= poll_at
                delay = 0.5
            except GenerationChanged:
                needs_load = read = True
            except LeaseLost:
                raise
            except Exception as exc:  # Redis away, or a bug: retry, and let the other projection go on
                level = logging.WARNING if isinstance(exc, (RedisError, OSError)) else logging.ERROR
                log.log(level, "plan %s %s: %r; retrying in %.1fs", plan_id, projection.label, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
                needs_load = read = True

    def _is_current(self, unit: Unit) -> None:
        """The unit's projector has read all its log: if it was taken lately, it is current now."""
        if self._joining.pop(unit, None) is not None:
            self._brought_current += 1
            if self._wanting and len(self._joining) <= self._window // 2:
                self._wake.set()  # half of them are current: take more now

    def _wait_s(self, projector: Projector, poll_at: float) -> float:
        """How long an idle projector waits for a wake-up: until its idle work is due (an open
        instant, a deadline, a silence's end, the state to write) or its poll, and at least
        `idle_s` (the quiet after which an open instant is judged). Not every second: a worker
        following a thousand plans spent a third of a core reading logs that had not moved."""
        wait = poll_at - time.monotonic()
        due = projector.idle_in_s(self.clock_ms) if self.clock_ms else 0.0
        if due is not None:
            wait = min(wait, due)
        return max(wait, self.idle_s)

    async def _report(self) -> None:
        """Every `metrics_every_s`: lag, checkpoint age and dead letters of the units that may have
        moved since their last report (their position changed, or their plan's log was heard to go
        past it), in chunks; of every unit once a minute (dead letters retried by hand). Four
        commands for each of 2,000 units every 5 s held the event loop for a fifth of a second."""
        now = time.monotonic()
        if now < self._next_report or not self.projectors:
            return
        self._next_report = now + self.metrics_every_s
        full = now >= self._next_full_report
        if full:
            self._next_full_report = now + FULL_REPORT_S
        due = [
            (unit, projector)
            for unit, projector in self.projectors.items()
            if full
            or self._reported.get(unit) != projector.state.position
            or self.wakeup.heard_past(projector.plan_id, projector.state.position)
        ]
        for start in range(0, len(due), REPORT_CHUNK):
            chunk = due[start : start + REPORT_CHUNK]
            await report_progress(self.redis, self.keys, [projector for _, projector in chunk])
            self._reported.update((unit, projector.state.position) for unit, projector in chunk)

    async def stop(self) -> None:
        """Stop every projector, let go of every lease (one round trip) and leave the live workers."""
        started, units = time.monotonic(), list(self.tasks)
        ended = await self._drop(*units)  # withdraws its offers too
        await self.keeper.stop()
        await self.lease.release_many([self._lease_key(unit) for unit in units])
        await self.control.zrem(self.keys.workers, self.worker_id)
        took = time.monotonic() - started
        log.info(
            "worker %s stopped %d projectors and let go of their leases in %.2f s", self.worker_id, len(units), took
        )
        del ended  # only now are the projectors' states freed: for a thousand plans that takes a second
