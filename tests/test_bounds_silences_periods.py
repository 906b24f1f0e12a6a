"""Bounds on a silence's window and on the months and dates a plan is read for: a silence dated in
year 9999, a rollup of 2024 for a 2025 plan, a table as of 0001-01-01 are refused naming the field,
with nothing stored; what was stored before the bounds (a year-9999 silence) still lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from redis.asyncio import Redis

from services.app import App, Invalid, publish_plan
from services.scheduler import due_periods
from services.store import EventStore, Keyspace, TokenInfo, TokenStore
from tests.conftest import api_client, one_line, planwatch
from tests.factories import silence_of, small_plan

PLAN = "test-2025"
FAR = "9999-12-31T23:00:00Z"
FAR_END = "9999-12-31T23:30:00Z"
OPERATOR = TokenInfo("cli", "admin", None, "operator", "")


async def analyst(redis: Redis, keys: Keyspace) -> str:
    token, _ = await TokenStore(redis, keys).create("analyst")
    return token


def iso(moment: datetime) -> str:
    return moment.isoformat()


async def test_a_silence_outside_a_year_of_now_is_refused_naming_its_field_and_nothing_is_stored(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    await publish_plan(store, small_plan(PLAN))
    before = await redis.xlen(keys.events(PLAN))
    now = await App(redis, keys).alerting.now()
    rule = {"rule": "data_stale"}
    bad: list[tuple[dict[str, object], str]] = [
        ({"starts_at": FAR, "ends_at": FAR_END}, "starts_at"),
        ({"starts_at": "9999-12-31T23:00:00-12:00", "ends_at": "9999-12-31T23:30:00-12:00"}, "starts_at"),
        ({"ends_at": "9999-12-31T23:30:00-12:00"}, "ends_at"),
        ({"ends_at": iso(now + timedelta(days=400))}, "ends_at"),
        ({"starts_at": FAR, "duration_hours": 8000}, "starts_at"),
        ({"starts_at": FAR, "duration_hours": 1}, "starts_at"),
        ({"starts_at": iso(now - timedelta(days=400)), "duration_hours": 1}, "starts_at"),
        ({"starts_at": iso(now + timedelta(days=300)), "duration_hours": 24 * 100}, "duration_hours"),
        ({"duration_hours": 1e-9}, "duration_hours"),
        ({"duration_hours": 9000}, "duration_hours"),
        ({"ends_at": iso(now + timedelta(days=1)), "duration_hours": 1}, "duration_hours"),
    ]
    async with api_client(redis, keys, await analyst(redis, keys)) as http:
        for given, field in bad:
            answer = await http.post(f"/v1/plans/{PLAN}/silences", json={"matchers": rule, **given})
            assert answer.status_code == 422, (given, answer.text)
            assert [e["field"] for e in answer.json()["errors"]] == [field], (given, answer.text)
            assert all(e["reason_zh"] for e in answer.json()["errors"])
        assert (await http.get(f"/v1/plans/{PLAN}/silences")).json() == []
        # within the bounds: accepted (a backdated start records a past outage)
        fine = {"starts_at": iso(now - timedelta(days=30)), "duration_hours": 24 * 31}
        assert (await http.post(f"/v1/plans/{PLAN}/silences", json={"matchers": rule, **fine})).status_code == 201
    assert await redis.xlen(keys.events(PLAN)) == before + 1
    with pytest.raises(Invalid) as refused:  # the use case itself, as the CLI and the dashboard call it
        await App(redis, keys).alerting.create_silence(PLAN, OPERATOR, rule, duration=timedelta(days=9999))
    assert refused.value.errors[0].field == "duration_hours"


async def test_a_stored_far_future_silence_still_lists_and_expires(
    redis: Redis, keys: Keyspace, store: EventStore, cli_env: dict[str, str]
) -> None:
    await publish_plan(store, small_plan(PLAN))
    minus_twelve = timezone(timedelta(hours=-12))  # year 10000 in UTC: what datetime cannot hold
    stored = silence_of(
        PLAN,
        datetime(9999, 12, 31, 23, tzinfo=minus_twelve),
        datetime(9999, 12, 31, 23, 30, tzinfo=minus_twelve),
        silence_id="00000000000f",
        created_by="cli",
    )
    await store.append([stored])  # bypassing the use case, as an event stored before the bounds
    async with api_client(redis, keys, await analyst(redis, keys)) as http:
        answer = await http.get(f"/v1/plans/{PLAN}/silences")
        assert answer.status_code == 200, answer.text
        [listed] = answer.json()
        assert listed["id"] == "00000000000f" and listed["state"] == "pending"
        assert listed["ends_at"].startswith("9999-12-31")  # shown at the edge a datetime holds
    shown = planwatch(cli_env, "silence", "list", "--plan", PLAN)
    assert shown.returncode == 0 and "00000000000f" in shown.stdout and "9999-12-31" in shown.stdout, shown.stderr
    ended = planwatch(cli_env, "silence", "expire", "00000000000f", "--plan", PLAN)
    assert ended.returncode == 0 and "已结束" in ended.stdout, ended.stderr


async def test_the_cli_refuses_a_matcher_field_given_twice_and_a_far_start(
    redis: Redis, keys: Keyspace, store: EventStore, cli_env: dict[str, str]
) -> None:
    await publish_plan(store, small_plan(PLAN))
    before = await redis.xlen(keys.events(PLAN))
    twice = planwatch(
        cli_env, "silence", "create", "--plan", PLAN, "--match", "rule=data_stale", "--match", "rule=data_outage",
        "--for", "1h",
    )  # fmt: skip
    said = one_line(twice.stderr)
    assert twice.returncode == 2 and "'--match'" in said and "rule given twice" in said, twice.stderr
    far = planwatch(
        cli_env, "silence", "create", "--plan", PLAN, "--match", "rule=data_stale", "--starts", FAR, "--for", "1h"
    )
    assert far.returncode == 1 and "--starts:" in far.stderr and "Traceback" not in far.stderr, far.stderr
    long = planwatch(cli_env, "silence", "create", "--plan", PLAN, "--match", "rule=data_stale", "--for", "9999d")
    assert long.returncode == 1 and "--for: a silence lasts at most 366 days" in long.stderr, long.stderr
    assert await redis.xlen(keys.events(PLAN)) == before


async def test_a_rollup_of_another_year_is_refused_naming_the_period_and_the_plan_year(
    redis: Redis, keys: Keyspace, store: EventStore, cli_env: dict[str, str]
) -> None:
    await publish_plan(store, small_plan(PLAN))
    before = await redis.xlen(keys.events(PLAN))
    for period in ("2024-06", "2099-12"):
        with pytest.raises(Invalid) as refused:
            await App(redis, keys).rollups.produce(PLAN, period)
        [error] = refused.value.errors
        assert error.field == "period" and "2025" in error.reason and "2025" in error.reason_zh
    by_hand = planwatch(cli_env, "rollup", "--plan", PLAN, "--period", "2024-06")
    assert by_hand.returncode == 1 and "plan year 2025" in by_hand.stderr and "Traceback" not in by_hand.stderr
    assert await redis.xlen(keys.events(PLAN)) == before and not await redis.hgetall(keys.rollups(PLAN))
    # the scheduler asks only for months of the plan year, however late it runs
    assert {p[:4] for p in due_periods(small_plan(PLAN), datetime(2030, 1, 1, tzinfo=UTC))} == {"2025"}


async def test_a_rollup_to_an_unwritable_output_publishes_nothing(
    redis: Redis, keys: Keyspace, store: EventStore, cli_env: dict[str, str], tmp_path
) -> None:
    await publish_plan(store, small_plan(PLAN))
    before = await redis.xlen(keys.events(PLAN))
    for target in ("/nonexistent/dir/x.md", str(tmp_path)):
        written = planwatch(cli_env, "rollup", "--plan", PLAN, "--period", "2025-06", "-f", "md", "-o", target)
        assert written.returncode == 1 and written.stderr.startswith("--output: "), written.stderr
        assert len(written.stderr.strip().splitlines()) == 1, written.stderr
    assert await redis.xlen(keys.events(PLAN)) == before and not await redis.hgetall(keys.rollups(PLAN))
    saved = tmp_path / "june.md"
    done = planwatch(cli_env, "rollup", "--plan", PLAN, "--period", "2025-06", "-o", str(saved))
    assert done.returncode == 0 and saved.read_text().strip(), done.stderr


async def test_as_of_outside_the_plan_year_is_refused_naming_it(
    redis: Redis, keys: Keyspace, store: EventStore, cli_env: dict[str, str]
) -> None:
    await publish_plan(store, small_plan(PLAN))
    async with api_client(redis, keys, await analyst(redis, keys)) as http:
        for day in ("2024-06-30", "0001-01-01", "2099-12-31"):
            for path in (f"/v1/plans/{PLAN}", f"/v1/plans/{PLAN}/provenance/gdp"):
                answer = await http.get(path, params={"as_of": day})
                assert answer.status_code == 422, (path, day, answer.text)
                [error] = answer.json()["errors"]
                assert error["field"] == "as_of" and "2025" in error["reason"], answer.text
        for day in ("2025-06-30", "2026-03-31"):  # the year, and the next, when its final figures come
            assert (await http.get(f"/v1/plans/{PLAN}", params={"as_of": day})).status_code == 200
    table = planwatch(cli_env, "table", "--plan", PLAN, "--as-of", "2024-06-30")
    assert table.returncode == 1 and "as_of" in table.stderr and "Traceback" not in table.stderr
