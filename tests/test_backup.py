"""Backup and restore: export → restore under another prefix gives the same table (now and as known
at any instant), alerts and rollups; partial or changed files are refused and store nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from redis.asyncio import Redis

from events.positions import position_key
from projections.views import report_view
from services.app import App, Conflict, Invalid
from services.demo import load_seed
from services.store import EventStore, Keyspace, RawEntry, Restored
from tests.conftest import planwatch

PLAN = "rongchang-2025"


@pytest.fixture
async def seeded(redis: Redis, keys: Keyspace, store: EventStore) -> App:
    """The seed's plan and history, its projections built, the June rollup written."""
    await load_seed(store)
    app = App(redis, keys)
    await app.operations.rebuild(PLAN)
    await app.rollups.produce(PLAN, "2025-06")
    return app


async def export_to(app: App, path: Path, plan_id: str = PLAN) -> None:
    with path.open("wb") as out:
        await app.operations.export(plan_id, out)


async def snapshot(app: App, plan_id: str, known_at: datetime) -> dict:
    """Everything a reader sees of a plan."""
    rollups = await app.rollups.list(plan_id)
    return {
        "table": report_view(await app.reports.table(plan_id)),
        "as_known": report_view(await app.reports.table(plan_id, known_at=known_at)),
        "firing": await app.alerting.firing(plan_id),
        "history": await app.alerting.history(plan_id, 10_000),
        "rollups": [(r.period, r.version, r.known_at, r.missed) for r in rollups],
    }


@pytest.mark.cluster
async def test_round_trip_gives_the_same_table_alerts_and_rollups(
    seeded: App, redis: Redis, other_keys: Keyspace, tmp_path: Path
) -> None:
    path = tmp_path / "backup.jsonl"
    await export_to(seeded, path)
    positions = [p for p, _ in await redis.xrange(seeded.keys.events(PLAN))]
    middle = datetime.fromtimestamp(position_key(positions[len(positions) // 2])[0] / 1000, UTC)

    restored_app = App(redis, other_keys)
    summary = await restored_app.operations.restore(path)
    assert (summary.events, summary.written, summary.documents) == (len(positions), len(positions), 1)
    assert [p for p, _ in await redis.xrange(other_keys.events(PLAN))] == positions  # transaction time kept
    assert await restored_app.store.plans() == [PLAN]
    assert await snapshot(restored_app, PLAN, middle) == await snapshot(seeded, PLAN, middle)
    june = await restored_app.rollups.rendered(PLAN, "2025-06.md")
    assert june.content == (await seeded.rollups.rendered(PLAN, "2025-06.md")).content
    assert not await redis.xlen(other_keys.outbox(PLAN))  # a restore tells no subscriber again
    assert not await redis.exists(other_keys.restoring(PLAN))


async def test_restore_as_another_plan_renames_it(
    seeded: App, redis: Redis, other_keys: Keyspace, tmp_path: Path
) -> None:
    path = tmp_path / "backup.jsonl"
    await export_to(seeded, path)
    copy = App(redis, other_keys)
    await copy.operations.restore(path, as_plan="copy-2025")
    original, renamed = (
        report_view(await seeded.reports.table(PLAN)),
        report_view(await copy.reports.table("copy-2025")),
    )
    assert renamed.pop("plan_id") == "copy-2025" and original.pop("plan_id") == PLAN
    assert renamed == original
    assert [plan.id for plan in await copy.plans.published()] == ["copy-2025"]
    assert [r.period for r in await copy.rollups.list("copy-2025")] == ["2025-06"]
    assert (await copy.rollups.rendered("copy-2025", "2025-06.md")).content
    # the renamed copy can be exported and restored in turn
    again = tmp_path / "again.jsonl"
    await export_to(copy, again, "copy-2025")
    await copy.operations.restore(again, as_plan="copy-b-2025")
    twice = report_view(await copy.reports.table("copy-b-2025"))
    assert twice.pop("plan_id") == "copy-b-2025" and twice == original


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def _tampered_data(lines: list[str]) -> list[str]:
    entry = json.loads(lines[5])
    entry["data"] = entry["data"].replace('"period":"2025', '"period":"2024', 1)
    return [*lines[:5], json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n", *lines[6:]]


def _tampered_with_digest(lines: list[str]) -> list[str]:
    from services.store import digest_of

    changed = _tampered_data(lines)
    entry = json.loads(changed[5])
    entry["digest"] = digest_of(entry["data"].encode())
    return [*changed[:5], json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n", *changed[6:]]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda lines: lines[:-1], "checksum line is missing"),
        (lambda lines: [*lines[:-2], lines[-2][:40]], "cut short"),
        (_tampered_data, "digest does not match"),
        (_tampered_with_digest, "checksum does not match"),
        (lambda lines: [*lines[:3], lines[4], lines[3], *lines[5:]], "positions must increase"),
        (lambda lines: [*lines, lines[2]], "after the checksum line"),
    ],
    ids=["no-checksum", "cut", "data-changed", "data-and-digest-changed", "reordered", "appended"],
)
async def test_a_partial_or_changed_file_is_refused_and_stores_nothing(
    seeded: App, redis: Redis, other_keys: Keyspace, tmp_path: Path, damage, reason: str
) -> None:
    path = tmp_path / "backup.jsonl"
    await export_to(seeded, path)
    path.write_text("".join(damage(_lines(path))))
    with pytest.raises(Invalid, match=reason):
        await App(redis, other_keys).operations.restore(path)
    assert not [key async for key in redis.scan_iter(match=f"{other_keys.prefix}:*")]


@pytest.mark.cluster
async def test_restore_refuses_a_plan_with_events_and_resumes_an_interrupted_one(
    seeded: App, redis: Redis, other_keys: Keyspace, tmp_path: Path
) -> None:
    path = tmp_path / "backup.jsonl"
    await export_to(seeded, path)
    with pytest.raises(Conflict, match="already has events"):
        await seeded.operations.restore(path)  # onto the original itself

    # a restore killed after its first page: the plan is neither listed nor complete
    from services.app.backup import verify_export

    checked = verify_export(path)
    first = [json.loads(line) for line in _lines(path)[1:4] if '"position"' in line]
    target = EventStore(redis, other_keys)
    entries = [
        Restored(
            RawEntry(e["position"], e["type"], e["data"]),
            json.loads(e["data"])["event_id"],
            json.loads(e["data"])["subject"],
        )
        for e in first
    ]
    assert await target.restore(PLAN, checked.checksum, entries) == len(entries)
    assert await target.plans() == []  # no worker projects a half-restored plan
    summary = await App(redis, other_keys).operations.restore(path)
    assert summary.written == summary.events - len(entries)
    assert await target.length(PLAN) == summary.events


def test_cli_export_and_restore(cli_env: dict[str, str], other_keys: Keyspace, tmp_path: Path) -> None:
    assert planwatch(cli_env, "demo").returncode == 0
    path = tmp_path / "backup.jsonl"
    exported = planwatch(cli_env, "export", "--plan", PLAN, "-o", str(path))
    assert exported.returncode == 0, exported.stderr
    assert "exported rongchang-2025" in exported.stderr and path.exists()
    to_stdout = planwatch(cli_env, "export", "--plan", PLAN)
    assert to_stdout.stdout.splitlines(keepends=True)[1:-1] == _lines(path)[1:-1]  # the same log, to stdout
    other = {**cli_env, "PLANWATCH_KEY_PREFIX": other_keys.prefix}
    restored = planwatch(other, "restore", str(path))
    assert restored.returncode == 0, restored.stderr
    assert "restored rongchang-2025: " in restored.stdout
    tables = [planwatch(env, "table", "--plan", PLAN, "-f", "json").stdout for env in (cli_env, other)]
    assert tables[0] == tables[1] and json.loads(tables[0])
    again = planwatch(other, "restore", str(path))
    assert again.returncode == 1 and "already has events" in again.stderr
    path.write_text("".join(_lines(path)[:-1]))
    partial = planwatch(other, "restore", str(path), "--as", "copy-2025")
    assert partial.returncode == 1 and "incomplete" in partial.stderr
