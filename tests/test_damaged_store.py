"""Nothing stored makes a reader fail.

A plan that has run — its log and indexes, both projections with their dead letters, alert
history and outbox, a rollup, tokens, a dashboard session, a silence, a subscription with its
queue and delivery state, the inbox and its rejects — then every kind of key it wrote is damaged
in turn: overwritten with text that is not what it should hold, or given entries that no program
of ours writes (as a person with redis-cli, another program, or a damaged disk might); then
replaced by a key of another Redis type (a string by a hash, anything else by a string), which
Redis refuses every command of the key's own type on (WRONGTYPE). After each, every reader is
asked again: each API and dashboard page answers without a 5xx, and the projectors (live, and a
new one taking the plan over), the notifier and the inbox's consumer carry on without raising or
leaving anything unhandled; and the writers that read what they write over (a department's
report, the plan published again) answer, without a 5xx — but a writer may refuse to write over
a key of another type, naming it (503 `store_damaged`; services/store/wrongtype.py). Then the
key is put back as it was.
"""

from __future__ import annotations

import asyncio
import csv
import io
import ipaddress
import json
import re
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from events.plan import Plan
from services.api import create_api
from services.app import App, StoreDamaged, produce_rollup, publish_plan
from services.app.backup import export_plan
from services.demo.run import load_seed
from services.notify import Notifier, SubscriptionRequest, SubscriptionStore
from services.projection import ALERTS, READ_MODEL, GenerationChanged, LeaseLost, Projector, take_leases
from services.scheduler import RollupScheduler
from services.spreadsheet.layout import CSV_COLUMNS
from services.store import DamagedKey, EventStore, Keyspace, Lease, TokenStore, redis_now_ms, stored_type
from tests.conftest import eventually
from tests.conftest import planwatch as run_planwatch
from tests.factories import event_body
from tests.inbox import inbox_consumer, inbox_settled
from tests.receivers import Receiver

PLAN = "rongchang-2025"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)
JULY = datetime(2025, 7, 15, tzinfo=UTC)
# keys of one kind differ only by the subject or digest they name: one of each kind is damaged
# (the plan's own index and the rollups' are kinds of their own)
# what writes, called directly: it may refuse to write over a key replaced by one of another type
WRITERS = ("the_scheduler_catches_up", "the_plan_is_published_again")
KINDS = re.compile(r"(?<=:subject:)(?!rongchang-2025$|rollup-)[^:]+$|(?<=:session:)[0-9a-f]+$|(?<=:ticket:)[0-9a-f]+$")


async def projectors_run(redis: Redis, keys: Keyspace) -> list[Projector]:
    running = []
    for projection in (READ_MODEL, ALERTS):
        assert await take_leases(Lease(redis, "w", 600_000), [keys.lease(PLAN, projection.name)]) == [True]
        projector = Projector(redis, keys, PLAN, owner="w", projection=projection)
        await caught_up(redis, projector)
        running.append(projector)
    return running


async def caught_up(redis: Redis, projector: Projector) -> None:
    """Load, read all, idle — loaded again once if its generation changed meanwhile (one of its
    keys, of another Redis type, was dropped by a commit), as the supervisor does."""
    for again in (True, False):
        try:
            await projector.load()
            while await projector.step():
                pass
            await projector.idle(await redis_now_ms(redis) + 1)
            return
        except GenerationChanged:
            if not again:
                raise


async def a_plan_that_has_run(app: App, http: httpx.AsyncClient, url: str) -> dict[str, str]:
    """Everything a running installation stores for a plan; returns the readers' paths' parts."""
    redis, keys = app.redis, app.keys
    store = EventStore(redis, keys)
    await load_seed(store)
    await redis.xadd(keys.events(PLAN), {"type": "indicator.updated", "data": "{not json"})  # parked
    admin, _ = await TokenStore(redis, keys).create("admin", None, "管理员")
    http.headers["Authorization"] = f"Bearer {admin}"
    subscribed = await http.post(
        "/v1/subscriptions", json={"name": "值班群", "channel": "webhook", "url": "http://127.0.0.1:9/hook"}
    )
    assert subscribed.status_code == 201, subscribed.text
    ends = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    silence = {"matchers": {"subject": "gdp"}, "ends_at": ends, "comment": "核实中"}
    assert (await http.post(f"/v1/plans/{PLAN}/silences", json=silence)).status_code == 201
    assert (await http.post(f"/v1/plans/{PLAN}/alerts/stream-ticket")).status_code == 201
    projectors = await projectors_run(redis, keys)
    firing = (await http.get(f"/v1/plans/{PLAN}/alerts")).json()
    acknowledged = await http.post(
        f"/v1/plans/{PLAN}/alerts/acknowledgements", json={"fingerprint": firing[0]["fingerprint"], "note": "已知悉"}
    )
    assert acknowledged.status_code == 201, acknowledged.text
    retraction = f"/v1/plans/{PLAN}/events/{(await store.subject_events(PLAN, 'kp-001'))[-1].event.event_id}/retraction"
    retracted = await http.post(retraction, json={"reason": "数据填报错误"})
    assert retracted.status_code == 201, retracted.text
    for projector in projectors:
        while await projector.step():
            pass
    assert (await produce_rollup(redis, keys, PLAN, "2025-06")).document is not None
    form = await http.get("/login")
    signed_in = await http.post("/login", data={"token": admin, "csrf": CSRF.search(form.text)[1], "next": "/"})  # type: ignore[index]
    assert signed_in.status_code == 303
    shared = await app.sharing.rollup_path(PLAN, "2025-06", 1)  # the link the rollups page shares
    reporter, _ = await TokenStore(redis, keys).create("department", "stats", "统计局")
    sheet = await app.sheets.template(PLAN, "stats", "2025-Q2", "csv")  # imported now, and again after each damage
    rows = list(csv.reader(io.StringIO(sheet.decode("utf-8-sig"))))
    rows[1][CSV_COLUMNS.index("本期累计值")] = "5.6"
    filled = io.StringIO()
    csv.writer(filled).writerows(rows)
    imported = await http.post(
        f"/v1/plans/{PLAN}/imports",
        files={"file": ("stats.csv", filled.getvalue().encode(), "text/csv")},
        headers={"Authorization": f"Bearer {reporter}"},
    )
    assert imported.status_code == 201, imported.text
    posted = json.dumps(event_body())  # posted once now, and again (a retry) after each damage
    answer = await http.post(f"/v1/plans/{PLAN}/events", content=posted, headers=reporting(reporter))
    assert answer.status_code == 201, answer.text
    inboxed = json.dumps({**json.loads(posted), "plan_id": PLAN})  # sent to the inbox too: a duplicate
    async with inbox_consumer(redis, keys, url, "setup"):
        await redis.xadd(keys.inbox, {"token": reporter, "json": inboxed})
        await redis.xadd(keys.inbox, {"json": inboxed})  # no token: refused, to the rejects stream
        await eventually(lambda: inbox_settled(redis, keys))
    assert await redis.xlen(keys.inbox_rejects) == 1
    return {
        "subscription": subscribed.json()["id"],
        "project": "kp-001",
        "shared": shared,
        "reporter": reporter,
        "posted": posted,
        "inboxed": inboxed,
        "sheet": filled.getvalue(),
        "retraction": retraction,
        "fingerprint": firing[0]["fingerprint"],
    }


async def stream_length(redis: Redis, key: str) -> int | None:
    """XLEN, or None when the key is not a stream (replaced by another type)."""
    try:
        return await redis.xlen(key)
    except ResponseError:
        return None


def reporting(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def readers(ids: dict[str, str]) -> list[str]:
    plan = f"/v1/plans/{PLAN}"
    return [
        "/v1/plans",
        plan,
        f"{plan}?as_of=2025-03-31",
        f"{plan}?known_at=2030-01-01T00:00:00Z",
        f"{plan}/parked",
        f"{plan}/provenance/gdp",
        f"{plan}/indicators/gdp",
        f"{plan}/projects",
        f"{plan}/projects/{ids['project']}",
        f"{plan}/alerts?state=all",
        f"{plan}/alerts/history",
        f"{plan}/silences",
        f"{plan}/rollups",
        f"{plan}/rollups/2025-06.md",
        f"{plan}/rollups/2025-06.xlsx",
        "/v1/tokens",
        "/v1/subscriptions",
        f"/v1/subscriptions/{ids['subscription']}/deliveries",
        "/healthz",
        "/metrics",
        "/",
        f"/plans/{PLAN}",
        f"/plans/{PLAN}/indicators/gdp",
        f"/plans/{PLAN}/projects",
        f"/plans/{PLAN}/alerts",
        f"/plans/{PLAN}/rollups",
        f"/plans/{PLAN}/rollups/2025-06.html",
        ids["shared"],
    ]


async def damage(redis: Redis, key: str) -> None:
    kind = await redis.type(key)
    if kind == "string":
        await redis.set(key, "not what was written\xff")
    elif kind == "hash":
        await redis.hset(key, mapping=dict.fromkeys(await redis.hkeys(key), "not what was written"))
    elif kind == "stream":
        await redis.xadd(key, {"written": "by hand"})
        await redis.xadd(key, {"data": "{", "type": "?", "notice": "{", "position": "?", "id": "?"})
        await redis.xadd(key, {"data": b"\xff{", "type": b"\xfe", "notice": b"\xff"})  # bytes that are no UTF-8
        await redis.xadd(key, {"type": "rollup.published", "data": '{"type": "indicator.updated"}'})
    elif kind == "set":
        await redis.sadd(key, "not:an:id\xff")
    elif kind == "zset":
        await redis.zadd(key, {"not a member": 1})
    elif kind == "list":
        await redis.rpush(key, "not a position")


async def replace(redis: Redis, key: str) -> None:
    """The key replaced by one of another Redis type: a string by a hash, anything else by a string."""
    kind, ttl = await redis.type(key), await redis.pttl(key)
    async with redis.pipeline(transaction=True) as tx:  # at once: a reader never finds the key missing
        tx.delete(key)
        if kind == "string":
            tx.hset(key, "not", "what was written")
        else:
            tx.set(key, "not what was written")
        if ttl > 0:
            tx.pexpire(key, ttl)
        await tx.execute()


async def one_key_of_each_kind(redis: Redis, keys: Keyspace) -> dict[str, str]:
    """One key of each kind the installation wrote, by its shape (the key with a subject, session or
    ticket id made `…`)."""
    every = sorted([key async for key in redis.scan_iter(match=f"{keys.prefix}:*")])
    return {KINDS.sub("…", key.removeprefix(keys.prefix)): key for key in every}


def failure(exc: BaseException) -> str:
    frames = [f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno}" for f in traceback.extract_tb(exc.__traceback__)]
    return f"{exc!r:.200} at {' < '.join(frames[-3:][::-1])}"


class Readers:
    """Everything that reads what is stored: the API and dashboard pages, the plan's projectors
    (live, and a new one taking the plan over), and a notifier (a new one each time: nothing
    remembered from before)."""

    def __init__(self, app: App, http: httpx.AsyncClient, outbound: httpx.AsyncClient, ids: dict[str, str]) -> None:
        self.app, self.redis, self.keys = app, app.redis, app.keys
        self.http, self.outbound, self.ids = http, outbound, ids
        self.live: list[Projector] = []
        self.plan: Plan | None = None  # the plan in force, before any damage
        self.replaced: str | None = None  # the key replaced by one of another type, if any

    def answered(self, response: httpx.Response, what: str) -> bool:
        """A writer's answer has no 5xx — but the 503 refusing to write over the key replaced by one
        of another type, naming it (then False: nothing was stored)."""
        if response.status_code == 503 and self.replaced and response.json().get("key") == self.replaced:
            return False
        assert response.status_code < 500, f"{what}: {response.status_code} {response.text:.200}"
        return True

    async def failures(self) -> list[str]:
        found = []
        for path in readers(self.ids):
            response = await self.http.get(path)
            if response.status_code >= 500:
                found.append(f"GET {path}: {response.status_code}")
        workers = (
            self.projectors_go_on,
            self.a_new_projector_takes_over,
            self.the_notifier_goes_on,
            self.the_scheduler_catches_up,
            self.the_operators_look,
            self.the_plan_is_exported,
            self.a_department_reports,
            self.a_department_retries,
            self.a_department_imports_its_sheet_again,
            self.a_department_sends_to_its_inbox_again,
            self.the_office_acts_again,
            self.the_plan_is_published_again,
        )
        for work in workers:
            try:
                await work()
            except DamagedKey as exc:  # a writer may refuse to write over the key replaced, naming it
                if work.__name__ not in WRITERS or exc.key != self.replaced:
                    found.append(f"{work.__name__}: {failure(exc)}")
            except Exception as exc:
                found.append(f"{work.__name__}: {failure(exc)}")
        return found

    async def projectors_go_on(self) -> None:
        """A live projector whose lease or generation pointer was damaged steps down (LeaseLost,
        GenerationChanged), as the supervisor has it; new ones take over once the key is back."""
        if len(self.live) < 2:
            self.live = await projectors_run(self.redis, self.keys)
        for projector in list(self.live):
            try:
                while await projector.step():
                    pass
                await projector.idle(await redis_now_ms(self.redis) + 1)
            except (LeaseLost, GenerationChanged):
                self.live.remove(projector)

    async def a_new_projector_takes_over(self) -> None:
        for projection in (READ_MODEL, ALERTS):
            if not (await take_leases(Lease(self.redis, "w", 600_000), [self.keys.lease(PLAN, projection.name)]))[0]:
                continue  # held by another (a damaged lease names one): nobody else takes the plan over
            await caught_up(self.redis, Projector(self.redis, self.keys, PLAN, owner="w", projection=projection))

    async def the_scheduler_catches_up(self) -> None:  # in mid-July: June, written before, is due
        await RollupScheduler(self.app, clock=lambda: JULY).catch_up()

    async def the_operators_look(self) -> None:  # `planwatch status`, `plans`, `subscriptions`, /readyz
        await self.app.operations.status()
        await self.app.operations.plans()
        await self.app.operations.deliveries()

    async def the_plan_is_exported(self) -> None:  # `planwatch export`: a backup is read back in full
        try:
            await export_plan(EventStore(self.redis, self.keys), PLAN, io.BytesIO())
        except StoreDamaged as exc:  # its log replaced by another type: refused, naming the key
            if self.replaced != self.keys.events(PLAN) or exc.details["key"] != self.replaced:
                raise

    async def a_department_reports(self) -> None:  # a new event: a retry would read its damaged record
        posted = self.http.post(f"/v1/plans/{PLAN}/events", json=event_body(), headers=reporting(self.ids["reporter"]))
        self.answered(await asyncio.wait_for(posted, 10), "POST events")

    async def a_department_retries(self) -> None:  # an event stored before the damage: a duplicate
        posted = self.http.post(
            f"/v1/plans/{PLAN}/events", content=self.ids["posted"], headers=reporting(self.ids["reporter"])
        )
        response = await asyncio.wait_for(posted, 10)
        if self.answered(response, "POST events again"):
            assert response.status_code != 201, f"stored twice: {response.text:.200}"

    async def a_department_imports_its_sheet_again(self) -> None:  # stored before the damage: nothing new
        sheet = {"file": ("stats.csv", self.ids["sheet"].encode(), "text/csv")}
        headers = {"Authorization": f"Bearer {self.ids['reporter']}"}
        response = await asyncio.wait_for(self.http.post(f"/v1/plans/{PLAN}/imports", files=sheet, headers=headers), 10)
        if self.answered(response, "POST imports"):
            assert response.status_code != 201, f"stored twice: {response.text:.200}"

    async def a_department_sends_to_its_inbox_again(self) -> None:  # stored before: handled, nothing new
        length = await stream_length(self.redis, self.keys.events(PLAN))
        try:
            await self.redis.xadd(self.keys.inbox, {"token": self.ids["reporter"], "json": self.ids["inboxed"]})
        except ResponseError as exc:  # the inbox replaced by another type: Redis refuses the department's XADD
            assert "WRONGTYPE" in str(exc), exc
            return
        try:
            await eventually(lambda: inbox_settled(self.redis, self.keys), timeout=10)
        except AssertionError:
            raise AssertionError("the inbox left a message unhandled") from None
        assert await stream_length(self.redis, self.keys.events(PLAN)) == length, "stored twice"

    async def the_office_acts_again(self) -> None:  # the same retraction and acknowledgement, a new silence
        ends = (datetime.now(UTC) + timedelta(days=30)).isoformat()
        plan = f"/v1/plans/{PLAN}"
        asked = [
            (self.ids["retraction"], {"reason": "数据填报错误"}),
            (f"{plan}/alerts/acknowledgements", {"fingerprint": self.ids["fingerprint"], "note": "已知悉"}),
            (f"{plan}/silences", {"matchers": {"subject": "gdp"}, "ends_at": ends, "comment": "核实中"}),
        ]
        for path, body in asked:
            self.answered(await asyncio.wait_for(self.http.post(path, json=body), 10), f"POST {path}")

    async def the_plan_is_published_again(self) -> None:  # as it is: nothing stored
        assert self.plan is not None
        published = publish_plan(EventStore(self.redis, self.keys), self.plan)
        assert not (await asyncio.wait_for(published, 10)).stored
        await self.app.operations.readiness()

    async def the_notifier_goes_on(self) -> None:
        notifier = Notifier(self.redis, self.keys, "n", self.outbound, backoff_s=0.01, allowed_targets=LOOPBACK)
        await notifier.fan_out(block_ms=1)
        await notifier.deliver_all()


@pytest.mark.parametrize("how", [damage, replace], ids=["damaged", "replaced"])  # two runs: side by side
async def test_no_damaged_key_makes_a_reader_fail(
    redis: Redis, keys: Keyspace, server_url: str, how: Callable[[Redis, str], Awaitable[None]]
) -> None:
    api = create_api(redis=redis, keys=keys)
    transport = httpx.ASGITransport(app=api, raise_app_exceptions=False)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://planwatch") as http,
        httpx.AsyncClient(timeout=1) as outbound,
        inbox_consumer(redis, keys, server_url),
    ):
        everyone = Readers(api.state.app, http, outbound, await a_plan_that_has_run(api.state.app, http, server_url))
        everyone.live = await projectors_run(redis, keys)
        everyone.plan = await api.state.app.catalog.get(PLAN)
        assert await everyone.failures() == []
        for path in readers(
            everyone.ids
        ):  # before any damage, every reader has something to show ("/": the one plan's)
            assert (await http.get(path)).status_code in (200, 303), path
        one_of_each = await one_key_of_each_kind(redis, keys)
        assert len(one_of_each) >= 25, sorted(one_of_each)  # the installation above wrote every kind
        kept = {shape: (stored_type(key), await redis.type(key)) for shape, key in one_of_each.items()}
        assert {shape: kinds for shape, kinds in kept.items() if kinds[0] != kinds[1]} == {}  # keys.py knows each
        found = {}
        for shape, key in sorted(one_of_each.items()):
            stored, ttl = await redis.dump(key), await redis.pttl(key)
            assert stored is not None
            await how(redis, key)
            everyone.replaced = key if how is replace else None
            try:
                if failed := await everyone.failures():
                    found[shape] = failed
            finally:
                await redis.restore(key, max(ttl, 0), stored, replace=True)
    assert found == {}


@pytest.mark.parametrize("field", ["inflight", "next_attempt_ms", "failures", "failing_since_ms"])
async def test_a_delivery_state_that_cannot_be_read_is_cleared_and_delivery_goes_on(
    redis: Redis, keys: Keyspace, receiver: Receiver, field: str
) -> None:
    """A subscription's delivery state is the notifier's bookkeeping: a field that cannot be read
    is cleared (with a warning) and what is queued is delivered afresh, not stuck for ever. The
    receiver refuses the first two tries, so the retries' bookkeeping (failures, since when) is read."""
    api = create_api(redis=redis, keys=keys)
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://planwatch") as http,
        httpx.AsyncClient(timeout=5) as outbound,
    ):
        await load_seed(EventStore(redis, keys))
        admin, _ = await TokenStore(redis, keys).create("admin", None, "管理员")
        http.headers["Authorization"] = f"Bearer {admin}"
        wanted = {"name": "值班群", "channel": "webhook", "url": receiver.url("/hook"), "group_wait": "0s"}
        subscription = (await http.post("/v1/subscriptions", json=wanted)).json()["id"]
        await projectors_run(redis, keys)
        receiver.then((503, b"{}"), (503, b"{}"))
        notifier = Notifier(redis, keys, "n", outbound, backoff_s=0.001, allowed_targets=LOOPBACK)
        await notifier.fan_out(block_ms=1)
        await notifier.deliver_all()  # refused: retried later
        await redis.hset(keys.sub_state(subscription), field, "not what was written")
        for _ in range(20):
            await asyncio.sleep(0.01)
            await notifier.deliver_all()
        assert [r.path for r in receiver.requests] == ["/hook"] * 3, "not delivered after the refusals"
        assert await redis.hget(keys.sub_state(subscription), field) != "not what was written"


@pytest.mark.parametrize("how", ["damage", "replace"])
async def test_the_cli_reads_a_store_damaged_everywhere_at_once(
    redis: Redis, keys: Keyspace, cli_env: dict[str, str], tmp_path: Path, server_url: str, how: str
) -> None:
    """Every kind of key damaged at once (or replaced by one of another type), then what an
    operator runs at a terminal (each a process of its own): each answers, none with a traceback."""
    api = create_api(redis=redis, keys=keys)
    transport = httpx.ASGITransport(app=api, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://planwatch") as http:
        await a_plan_that_has_run(api.state.app, http, server_url)
    for key in (await one_key_of_each_kind(redis, keys)).values():
        await (damage if how == "damage" else replace)(redis, key)
    commands = [
        ["status"],
        ["status", "--plan", PLAN],
        ["plans"],
        ["table", "--plan", PLAN],
        ["table", "--plan", PLAN, "--known-at", "2030-01-01T00:00:00+08:00"],
        ["why", "--plan", PLAN, "--cell", "gdp"],
        ["why", "--plan", PLAN, "--project", "kp-001"],
        ["alerts", "--plan", PLAN],
        ["alerts", "--plan", PLAN, "--history"],
        ["rollups", "--plan", PLAN],
        ["subscriptions"],
        ["silence", "list", "--plan", PLAN],
        ["export", "--plan", PLAN, "--output", str(tmp_path / "export.jsonl")],
    ]
    failed = []
    for command in commands:
        done = run_planwatch(cli_env, *command)
        if "Traceback" in done.stderr or done.returncode not in (0, 1):
            failed.append(f"planwatch {' '.join(command)}: exit {done.returncode}\n{done.stderr[-1500:]}")
    assert failed == []


async def test_a_subscription_record_that_cannot_be_read_is_told_of_once_not_at_every_read(
    redis: Redis, keys: Keyspace, caplog: pytest.LogCaptureFixture
) -> None:
    """The notifier reads every subscription each second: a line each time would drown the log."""
    store = SubscriptionStore(redis, keys)
    kept = await store.create(SubscriptionRequest(name="值班群", channel="stream"))
    await redis.hset(keys.subscriptions, "damaged", "[]")
    for _ in range(5):
        assert [s.id for s in await store.all()] == [kept.id]
    told = [r for r in caplog.records if "damaged" in r.getMessage()]
    assert len(told) == 1 and "cannot be read" in told[0].getMessage()
    await redis.hset(keys.subscriptions, "damaged", "{")  # damaged anew: told again
    await store.all()
    assert len([r for r in caplog.records if "damaged" in r.getMessage()]) == 2
