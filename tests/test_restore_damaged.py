"""`planwatch restore` of damaged or hand-made exports: every problem the verifying pass can see is
refused there with its line, before anything is written; a write the server refuses afterwards
takes back what the restore wrote, so the plan id takes a file again."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from services.app import App, Conflict, Invalid
from services.app.backup import restore_plan
from services.app.errors import Unavailable
from services.demo import load_seed
from services.store import EventStore, Keyspace, digest_of
from tests.conftest import planwatch

PLAN = "rongchang-2025"
Lines = list[bytes]  # an export without its checksum line: the header, then documents and events


@pytest.fixture
async def exported(redis: Redis, keys: Keyspace, store: EventStore, tmp_path: Path) -> Lines:
    """The seed's plan with its June rollup, exported; the lines before the checksum line."""
    await load_seed(store)
    app = App(redis, keys)
    await app.rollups.produce(PLAN, "2025-06")
    path = tmp_path / "export.jsonl"
    with path.open("wb") as out:
        await app.operations.export(PLAN, out)
    return path.read_bytes().splitlines(keepends=True)[:-1]


def sealed(path: Path, lines: Lines) -> Path:
    """`lines` with a checksum line that fits them: a file changed by someone who knew the format."""
    events = sum(line.startswith(b'{"position"') for line in lines)
    documents = sum(line.startswith(b'{"document"') for line in lines)
    checksum = f"sha256:{hashlib.sha256(b''.join(lines)).hexdigest()}"
    trailer = json.dumps({"checksum": checksum, "events": events, "documents": documents}, separators=(",", ":"))
    path.write_bytes(b"".join(lines) + trailer.encode() + b"\n")
    return path


def line(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, separators=(",", ":")) + "\n").encode()  # ASCII: "\ud800" stays an escape


def with_event(lines: Lines, index: int, **changes: str) -> Lines:
    """Line `index` (0: the header) changed; the digest recomputed when the data changes."""
    record = json.loads(lines[index]) | changes
    if "data" in changes:
        record["digest"] = digest_of(changes["data"].encode(errors="surrogatepass"))
    return [*lines[:index], line(record), *lines[index + 1 :]]


def at_position(position: str) -> Callable[[Lines], Lines]:
    return lambda lines: with_event(lines, 1, position=position)


def with_data(data: str) -> Callable[[Lines], Lines]:
    return lambda lines: [lines[0], line({"position": "1-0", "type": "plan.published", "data": data, "digest": "x"})]


def deep_data(lines: Lines) -> Lines:
    return with_event(lines, 1, data='{"a":' + "[" * 100_000 + "]" * 100_000 + "}")


def without_plan(lines: Lines) -> Lines:
    return [line for line in lines if b'"type":"plan.published"' not in line]


def header_version(version: object) -> Callable[[Lines], Lines]:
    return lambda lines: [line({**json.loads(lines[0]), "planwatch_export": version}), *lines[1:]]


async def keys_under(redis: Redis, keyspace: Keyspace) -> list[bytes]:
    return [key async for key in redis.scan_iter(match=f"{keyspace.prefix}:*")]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda lines: [lines[0], b"[" * 200_000 + b"\n"], r"line 2: not a JSON line \(nested too deeply\)"),
        (lambda lines: [lines[0], b'{"x":' + b"[" * 200_000 + b"]" * 200_000 + b"}\n"], r"line 2: .*nested too deeply"),
        (deep_data, r"line 2: the event's data is not JSON \(nested too deeply\)"),
        (lambda lines: with_event(lines, 1, data="\ud800"), "line 2: 'data' holds a lone surrogate"),
        (with_data("\ud800"), "line 2: 'data' holds a lone surrogate"),
        (at_position("0-0"), "line 2: '0-0' is not a stream position"),
        (at_position("99999999999999999999-0"), "line 2: .* is not a stream position"),
        (at_position("18446744073709551616-0"), "line 2: .* is not a stream position"),  # 2^64
        (at_position("1-18446744073709551616"), "line 2: .* is not a stream position"),
        (at_position("01-0"), "line 2: .* is not a stream position"),  # XADD would store 1-0
        (at_position("1-0\n"), "line 2: .* is not a stream position"),
        (at_position("4133980800000-0"), "line 2: .* is after the year 2100"),  # a rebuild could not read it
        (without_plan, "no plan.published event"),
        (header_version(True), "line 1: not a planwatch export"),
        (header_version(1.0), "line 1: not a planwatch export"),
    ],
    ids=[
        "deep-line",
        "deep-in-a-line",
        "deep-data",
        "surrogate-data",
        "surrogate-data-bad-digest",
        "position-0-0",
        "position-20-digits",
        "ms-2^64",
        "seq-2^64",
        "leading-zero",
        "trailing-newline",
        "after-2100",
        "no-plan-published",
        "version-true",
        "version-float",
    ],
)
async def test_a_damaged_file_is_refused_by_line_and_stores_nothing(
    exported: Lines, redis: Redis, other_keys: Keyspace, tmp_path: Path, damage, reason: str
) -> None:
    path = sealed(tmp_path / "damaged.jsonl", damage(exported))
    with pytest.raises(Invalid, match=reason):
        await App(redis, other_keys).operations.restore(path, as_plan="copy-2025")
    assert not await keys_under(redis, other_keys)


def test_cli_refuses_a_damaged_file_without_a_traceback_and_takes_a_good_one(
    exported: Lines, cli_env: dict[str, str], tmp_path: Path
) -> None:
    deep = sealed(tmp_path / "deep.jsonl", [exported[0], b"[" * 200_000 + b"\n"])
    zero = sealed(tmp_path / "zero.jsonl", at_position("0-0")(exported))
    for path, reason in ((deep, "line 2: not a JSON line (nested too deeply)"), (zero, "line 2: '0-0'")):
        refused = planwatch(cli_env, "restore", str(path), "--as", "copy-2025")
        assert refused.returncode == 1 and reason in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr + refused.stdout
    restored = planwatch(cli_env, "restore", str(sealed(tmp_path / "good.jsonl", exported)), "--as", "copy-2025")
    assert restored.returncode == 0, restored.stderr  # nothing of the refused files was in the way
    assert "restored rongchang-2025 as copy-2025: " in restored.stdout


@pytest.mark.cluster
async def test_a_write_refused_midway_is_taken_back_and_the_id_takes_another_file(
    exported: Lines, redis: Redis, other_keys: Keyspace, tmp_path: Path
) -> None:
    app = App(redis, other_keys)
    subject = json.loads(json.loads(exported[4])["data"])["subject"]  # the fourth event's
    await redis.set(other_keys.subject_events(PLAN, subject), "not a list")  # its RPUSH fails: WRONGTYPE
    with pytest.raises(Unavailable, match=r"refused a write.*taken back"):
        await app.operations.restore(sealed(tmp_path / "export.jsonl", exported))
    assert not await keys_under(redis, other_keys)  # not the marker, the first events or the document

    header = json.loads(exported[0]) | {"exported_at": "2025-07-10T00:00:00+00:00"}
    another = sealed(tmp_path / "another.jsonl", [line(header), *exported[1:]])  # another checksum
    summary = await app.operations.restore(another)
    assert summary.written == summary.events == await redis.xlen(other_keys.events(PLAN))
    assert await app.store.plans() == [PLAN]


async def test_a_restore_failing_after_its_writes_is_resumed_by_the_same_file(
    exported: Lines, redis: Redis, other_keys: Keyspace, tmp_path: Path
) -> None:
    app, path = App(redis, other_keys), sealed(tmp_path / "export.jsonl", exported)

    async def broken(plan_id: str) -> list[Any]:
        raise RuntimeError("the rebuild broke")

    with pytest.raises(RuntimeError):
        await restore_plan(app.store, path, None, broken)
    assert await app.store.plans() == []  # no worker projects a plan not rebuilt
    summary = await app.operations.restore(path)
    assert (summary.written, await app.store.plans()) == (0, [PLAN])  # the log kept, rebuilt now


async def test_positions_beyond_a_doubles_precision_are_all_written(
    exported: Lines, redis: Redis, other_keys: Keyspace, tmp_path: Path
) -> None:
    # 2^53 and 2^53 + 1 are one number to Lua: the second was taken for written already
    late = ["4133980799999-9007199254740992", "4133980799999-9007199254740993", "4133980799999-18446744073709551615"]
    events = [i for i, text in enumerate(exported) if text.startswith(b'{"position"')][-3:]
    lines = exported
    for index, position in zip(events, late, strict=True):
        lines = with_event(lines, index, position=position)
    app = App(redis, other_keys)
    summary = await app.operations.restore(sealed(tmp_path / "late.jsonl", lines))
    stored = [entry.position async for entry in app.store.raw_entries(PLAN, until="+")]
    assert summary.written == summary.events == len(stored) and stored[-3:] == late


async def test_a_refused_restore_writes_nothing_into_the_plan_with_events(
    exported: Lines, redis: Redis, other_keys: Keyspace, tmp_path: Path
) -> None:
    app, path = App(redis, other_keys), sealed(tmp_path / "export.jsonl", exported)
    await app.operations.restore(path, as_plan="copy-2025")
    documents = [key async for key in redis.scan_iter(match=f"{other_keys.prefix}:{{copy-2025}}:rollup:20*")]
    await redis.delete(*documents)
    with pytest.raises(Conflict, match="already has events"):
        await app.operations.restore(path, as_plan="copy-2025")
    assert not await redis.exists(*documents)  # the document used to be written before the check
