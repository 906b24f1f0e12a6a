"""Bad input at every door — HTTP (the real ASGI app), the inbox stream (a real worker process) and
spreadsheets — named cases from the hardening issue plus generated ones (hypothesis): every one is
a clear 4xx (or a reject) naming its field, none is a 5xx, none stores part of a batch, and nothing
accepted is lost. The last test prints the table the issue asks for (run with -s to see it; it is
also written to $PLANWATCH_BAD_INPUT_TABLE when set)."""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from services.app import App, AppError, publish_plan
from services.spreadsheet import write_template
from services.store import EventStore, Keyspace
from tests.conftest import Workers, api_client, eventually
from tests.factories import event_body, small_plan

PLAN = "bad-2025"


@dataclass
class Row:
    tries: int = 0
    accepted: int = 0  # generated inputs that happened to be valid: stored whole (and found: not lost)
    clear_4xx: int = 0
    server_errors: int = 0
    partial_writes: int = 0
    lost: int = 0
    unclear: list[str] = field(default_factory=list)  # refusals not naming the field expected


TABLE: defaultdict[str, Row] = defaultdict(Row)


valid = event_body


def _days_ahead(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def _raw_value(number: bytes) -> bytes:
    """A valid event whose value is the JSON number `number` as written (json.dumps would round it)."""
    return json.dumps(valid()).encode().replace(b'"value": "5.5"', b'"value": ' + number)


def project(kind: str, **changes: Any) -> dict[str, Any]:
    event = {
        "event_id": str(uuid.uuid4()),
        "type": kind,
        "subject": "kp-001",
        "period": "2025-03",
        "occurred_at": "2025-04-02T10:00:00+08:00",
    }
    return {**event, **changes}


# (category, name, department, the bad event, the field its refusal must name)
EVENT_CASES: list[tuple[str, str, str, dict[str, Any], str]] = [
    ("numbers", "value 1e400", "stats", valid(value="1e400"), "value"),
    ("numbers", "value 1e100000", "stats", valid(value="1e100000"), "value"),
    ("numbers", "value -1e-100000", "stats", valid(value="-1e-100000"), "value"),
    ("numbers", "value NaN", "stats", valid(value="NaN"), "value"),
    ("numbers", "value Infinity", "stats", valid(value="Infinity"), "value"),
    ("numbers", "value 1e308 as a JSON number", "stats", valid(value=1e308), "value"),
    ("numbers", "value with 7 decimal places", "stats", valid(value="5.1234567"), "value"),
    ("numbers", "percentage of -200,000", "stats", valid(value="-200000"), "value"),
    ("numbers", "value empty", "stats", valid(value=""), "value"),
    ("numbers", "value with a decimal comma", "stats", valid(value="5,5"), "value"),
    ("numbers", "value a list", "stats", valid(value=[5]), "value"),
    ("numbers", "count of 2×10^12", "econ", valid(subject="new-projects", period="2025-06", value="2e12"), "value"),
    ("numbers", "percentage with 5 places", "stats", valid(value="5.12345"), "value"),
    ("numbers", "investment negative", "econ", project("investment.completed", amount_wan="-1"), "amount_wan"),
    ("numbers", "investment 10^12 万元", "econ", project("investment.completed", amount_wan="1e12"), "amount_wan"),
    ("numbers", "value with an underscore", "stats", valid(value="1_0"), "value"),
    ("numbers", "value in Arabic-Indic digits", "stats", valid(value="٧"), "value"),
    ("numbers", "value in full-width digits", "stats", valid(value="７.１"), "value"),
    ("periods", "period 2100-12", "stats", valid(period="2100-12"), "period"),
    ("periods", "period 2000", "stats", valid(period="2000"), "period"),
    ("periods", "period of the year before", "stats", valid(period="2024-12"), "period"),
    ("periods", "period month 13", "stats", valid(period="2025-13"), "period"),
    ("periods", "period Q5", "stats", valid(period="2025-Q5"), "period"),
    ("periods", "period empty", "stats", valid(period=""), "period"),
    ("periods", "period with a slash", "stats", valid(period="2025/06"), "period"),
    ("dates", "occurred_at in 9999", "stats", valid(occurred_at="9999-01-01T00:00:00+08:00"), "occurred_at"),
    ("dates", "occurred_at without a zone", "stats", valid(occurred_at="2025-07-15T10:00:00"), "occurred_at"),
    ("dates", "occurred_at six years on", "stats", valid(occurred_at="2031-01-01T00:00:00+08:00"), "occurred_at"),
    ("dates", "occurred_at in words", "stats", valid(occurred_at="yesterday"), "occurred_at"),
    ("dates", "occurred_at a number", "stats", valid(occurred_at=1754791200), "occurred_at"),
    ("dates", "occurred_at a week ahead of now", "stats", valid(occurred_at=_days_ahead(7)), "occurred_at"),
    ("dates", "started_on in 9999", "econ", project("project.started", started_on="9999-03-01"), "started_on"),
    ("dates", "started_on 2015", "econ", project("project.started", started_on="2015-01-01"), "started_on"),
    ("dates", "completed_on 2030", "econ", project("project.completed", completed_on="2030-01-01"), "completed_on"),
    ("dates", "started_on 31 February", "econ", project("project.started", started_on="2025-02-31"), "started_on"),
    ("ids", "the all-zero UUID", "stats", valid(event_id="00000000-0000-0000-0000-000000000000"), "event_id"),
    ("ids", "event_id not a UUID", "stats", valid(event_id="not-a-uuid"), "event_id"),
    ("ids", "event_id a number", "stats", valid(event_id=12345), "event_id"),
    ("ids", "subject with a semicolon", "stats", valid(subject="GDP; DROP"), "subject"),
    ("ids", "subject with braces", "stats", valid(subject="{plan}"), "subject"),
    ("ids", "subject of another department", "stats", valid(subject="new-projects", period="2025-06"), "subject"),
    ("ids", "subject unknown", "stats", valid(subject="no-such-thing"), "subject"),
    ("ids", "plan_id of another plan", "stats", valid(plan_id="other-2025"), "plan_id"),
    ("ids", "department claimed", "stats", valid(department="econ"), "department"),
    ("text", "note of 100,000 characters", "stats", valid(note="长" * 100_000), "note"),
    ("text", "note of 2,001 characters", "stats", valid(note="x" * 2001), "note"),
    ("text", "note a number", "stats", valid(note=5), "note"),
    ("text", "qualifier unknown", "stats", valid(qualifier="maybe"), "qualifier"),
    ("text", "assessment unknown", "stats", valid(assessment="great"), "assessment"),
    ("text", "an extra field", "stats", valid(foo="bar"), "foo"),
    ("text", "note with a control character", "stats", valid(note="调整\u0001\u0008"), "note"),
    ("text", "note with an escape sequence", "stats", valid(note="\u001b[31m红"), "note"),
    ("text", "note with a right-to-left override", "stats", valid(note="已核实\u202e实核已"), "note"),
    ("types", "unknown type", "stats", valid(type="indicator.deleted"), "type"),
    ("types", "plan.published posted", "stats", valid(type="plan.published"), "type"),
    ("types", "rollup.published posted", "stats", valid(type="rollup.published"), "type"),
    ("types", "event.retracted posted", "stats", valid(type="event.retracted"), "type"),
    ("types", "recorded_at sent", "stats", valid(recorded_at="2025-07-15T10:00:00+08:00"), "recorded_at"),
    ("types", "no type", "stats", {k: v for k, v in valid().items() if k != "type"}, "type"),
]

# whole requests: (category, name, build(token) → (method, path, kwargs), field)
Request = tuple[str, str, dict[str, Any]]


def _post(body: object, **headers: str) -> Request:
    return ("POST", f"/v1/plans/{PLAN}/events", {"content": _bytes(body), "headers": headers})


def _bytes(body: object) -> bytes:
    return body if isinstance(body, bytes) else json.dumps(body).encode()


JSON = {"Content-Type": "application/json"}
REQUEST_CASES: list[tuple[str, str, Request, str]] = [
    ("json", "a key given twice", _post(json.dumps(valid())[:-1].encode() + b', "value": "99"}', **JSON), "value"),
    ("json", "not JSON", _post(b"{oops", **JSON), "(body)"),
    ("json", "a NaN literal", _post(b'{"value": NaN}', **JSON), "(body)"),
    ("json", "an empty batch", _post([], **JSON), "events"),
    ("json", "1,001 events", _post([valid() for _ in range(1001)], **JSON), "events"),
    ("json", "a scalar", _post(7, **JSON), "(body)"),
    ("json", "a number past 4 places, as a float", _post(_raw_value(b"1.00000000000000000001"), **JSON), "value"),
    ("json", "a number that is 0 as a float", _post(_raw_value(b"1e-400"), **JSON), "value"),
    ("json", "a key with a lone surrogate twice", _post(b'{"a\\ud800": 1, "a\\ud800": 2}', **JSON), "a\\ud800"),
    ("json", "department with a lone surrogate", _post(valid(department="st\ud800"), **JSON), "department"),
    ("json", "a batch with a field of its own", _post({"events": [valid()], "extra": 1}, **JSON), "extra"),
    ("json", "a batch whose events are null", _post({"events": None}, **JSON), "events"),
    (
        "expected_versions",
        "a version of a subject the batch does not report on",
        _post({"events": [valid()], "expected_versions": {"kp-001": 0}}, **JSON),
        "expected_versions.kp-001",
    ),
    ("content-type", "no Content-Type", _post([valid()]), "Content-Type"),
    ("content-type", "text/plain", _post([valid()], **{"Content-Type": "text/plain"}), "Content-Type"),
    (
        "content-type",
        "a form",
        _post([valid()], **{"Content-Type": "application/x-www-form-urlencoded"}),
        "Content-Type",
    ),
]
for version in (True, False, 10**30, 2**63, -1, "1", 1.5):
    REQUEST_CASES.append(
        (
            "expected_versions",
            f"expected version {version!r}",
            _post({"events": [valid()], "expected_versions": {"gdp": version}}, **JSON),
            "expected_versions.gdp",
        )
    )


@pytest.fixture
async def door(redis: Redis, keys: Keyspace, store: EventStore) -> AsyncIterator[tuple[App, dict[str, str]]]:
    await publish_plan(store, small_plan(PLAN))
    await publish_plan(store, small_plan("other-2025"))
    app = App(redis, keys)
    tokens = {name: (await app.access.create_token("department", name, "", [PLAN]))[0] for name in ("stats", "econ")}
    tokens["elsewhere"] = (await app.access.create_token("department", "stats", "", ["other-2025"]))[0]
    yield app, tokens


def record(category: str, name: str, status: int, fields: set[str], expected: str) -> None:
    row = TABLE[category]
    row.tries += 1
    if status >= 500:
        row.server_errors += 1
    elif 400 <= status < 500 and any(
        f == expected or f.endswith(f".{expected}") or f.startswith(expected) for f in fields
    ):
        row.clear_4xx += 1
    else:
        row.unclear.append(f"{name}: {status} {sorted(fields)}")


async def stored_ids(store: EventStore, plan: str = PLAN) -> set[str]:
    return {str(s.event.event_id) for s in await store.read(plan, limit=100_000) if hasattr(s.event, "event_id")}


async def test_named_bad_events_over_http(door, redis: Redis, keys: Keyspace, store: EventStore) -> None:
    _, tokens = door
    async with api_client(redis, keys) as http:
        for category, name, department, bad, expected in EVENT_CASES:
            good = valid() if department == "stats" else valid(subject="new-projects", period="2025-06", value="3")
            response = await http.post(
                f"/v1/plans/{PLAN}/events", json=[good, bad], headers={"Authorization": f"Bearer {tokens[department]}"}
            )
            fields = {e["field"].removeprefix("events[1].") for e in response.json().get("errors", [])}
            record(category, name, response.status_code, fields, expected)
            if good["event_id"] in await stored_ids(store):
                TABLE[category].partial_writes += 1
        for category, name, (method, path, kwargs), expected in REQUEST_CASES:
            headers = {"Authorization": f"Bearer {tokens['stats']}", **kwargs["headers"]}
            response = await http.request(method, path, content=kwargs["content"], headers=headers)
            fields = {e["field"] for e in response.json().get("errors", [])}
            record(category, name, response.status_code, fields, expected)
        other = await http.post(
            f"/v1/plans/{PLAN}/events", json=[valid()], headers={"Authorization": f"Bearer {tokens['elsewhere']}"}
        )
        record(
            "tokens", "a token of another plan", other.status_code, {e["field"] for e in other.json()["errors"]}, "plan"
        )
    assert await store.length(PLAN) == 1  # the plan alone: nothing of any refused batch
    _assert_clean(["numbers", "periods", "dates", "ids", "text", "types", "json", "content-type", "expected_versions"])


INBOX_CASES: list[tuple[str, dict[str, str], str]] = [
    ("value 1e400", {"value": "1e400"}, "value"),
    ("period 2100-12", {"period": "2100-12"}, "period"),
    ("the all-zero UUID", {"event_id": "00000000-0000-0000-0000-000000000000"}, "event_id"),
    ("occurred_at in 9999", {"occurred_at": "9999-01-01T00:00:00+08:00"}, "occurred_at"),
    ("note of 100,000 characters", {"note": "长" * 100_000}, "note"),
    ("unknown type", {"type": "indicator.deleted"}, "type"),
    ("event.retracted sent", {"type": "event.retracted"}, "type"),
    ("the token in the note field", {"note": "TOKEN"}, "value"),  # and value bad too: the token is redacted
    ("json not an object", {"json": "[1, 2]"}, "json"),
    ("value in Arabic-Indic digits", {"value": "٧"}, "value"),
    ("note with a control character", {"note": "调整\x01"}, "note"),
    ("a plan the token is not for", {"plan_id": "other-2025"}, "plan"),
]


async def test_named_bad_messages_on_the_inbox(door, redis: Redis, keys: Keyspace, store: EventStore, workers: Workers):
    _, tokens = door
    workers.start("w-bad-inputs")
    token = tokens["stats"]
    sent: list[tuple[str, str, str]] = []
    for name, changes, expected in INBOX_CASES:
        fields = {"token": token, "plan_id": PLAN, **valid()}
        if changes.get("note") == "TOKEN":
            changes = {"note": token, "value": "lots"}
        fields.update(changes)
        if "json" in changes:
            fields = {"token": token, "json": changes["json"]}
        entry = await redis.xadd(keys.inbox, {k: str(v) for k, v in fields.items()})
        sent.append((name, entry if isinstance(entry, str) else entry.decode(), expected))
    await eventually(lambda: _count(redis, keys, len(sent)), timeout=60)
    rejects = {f["inbox_id"]: f for _, f in await redis.xrange(keys.inbox_rejects)}
    for name, entry, expected in sent:
        reject = rejects.get(entry)
        fields = {e["field"] for e in json.loads(reject["errors"])} if reject else set()
        status = {"invalid": 422, "forbidden": 403, "unauthorized": 401, "not_found": 404}.get(
            reject["error"] if reject else "", 200
        )
        record("inbox", name, status, fields, expected)
    assert token.split("_", 2)[2] not in json.dumps(rejects, ensure_ascii=False)
    assert await store.length(PLAN) == 1
    _assert_clean(["inbox"])


async def _count(redis: Redis, keys: Keyspace, n: int) -> bool:
    return await redis.xlen(keys.inbox_rejects) >= n


def sheet(department: str, fill: dict[str, dict[str, str]]) -> bytes:
    """The department's CSV template with cells filled: {subject: {column: value}}."""
    rows = list(
        csv.reader(io.StringIO(write_template(small_plan(PLAN), department, "2025-06", "csv").decode("utf-8-sig")))
    )
    header = rows[0]
    for row in rows[1:]:
        for column, value in fill.get(row[header.index("编号")], {}).items():
            row[header.index(column)] = value
    out = io.StringIO(newline="")
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8-sig")


SHEET_CASES: list[tuple[str, str, dict[str, dict[str, str]], str]] = [
    ("value 1e400", "stats", {"gdp": {"本期累计值": "1e400"}}, "本期累计值"),
    ("value not a number", "stats", {"gdp": {"本期累计值": "abc"}}, "本期累计值"),
    ("value with 7 decimal places", "stats", {"gdp": {"本期累计值": "5.1234567"}}, "本期累计值"),
    ("period of another year", "stats", {"gdp": {"本期累计值": "5.5", "报告期": "2024-06"}}, "报告期"),
    ("period 2100-12", "stats", {"gdp": {"本期累计值": "5.5", "报告期": "2100-12"}}, "报告期"),
    ("note of 600 characters", "stats", {"gdp": {"本期累计值": "5.5", "备注": "长" * 600}}, "备注"),
    ("started in 9999", "econ", {"kp-001": {"开工日期": "9999-03-01"}}, "开工日期"),
    ("investment negative", "econ", {"kp-001": {"本期完成投资（万元）": "-5"}}, "本期完成投资（万元）"),
    ("count of 2×10^12", "econ", {"new-projects": {"本期累计值": "2000000000000"}}, "本期累计值"),
    ("a value in a project row", "econ", {"kp-001": {"本期累计值": "5"}}, "本期累计值"),
]


async def test_named_bad_spreadsheets(door, store: EventStore) -> None:
    app, tokens = door
    for name, department, fill, expected in SHEET_CASES:
        who = await app.ingest.authenticate(tokens[department])
        good = {"income": {"本期累计值": "5.0"}} if department == "stats" else {}
        try:
            await app.sheets.import_file(who, sheet(department, {**good, **fill}), "filled.csv", PLAN)
            status, fields = 201, set()
        except AppError as exc:
            status, fields = exc.status, {e.field.split(": ", 1)[-1] for e in exc.errors}
        record("spreadsheet", name, status, fields, expected)
    assert await store.length(PLAN) == 1
    _assert_clean(["spreadsheet"])


_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["1e400", "-0", "NaN", "2100-12", "0000-00", "00000000-0000-0000-0000-000000000000", "9999-12-31"]),
    st.lists(st.integers(), max_size=2),
)
_FIELDS = [
    "event_id",
    "type",
    "subject",
    "period",
    "occurred_at",
    "value",
    "note",
    "qualifier",
    "plan_id",
    "started_on",
]


async def test_generated_bad_events_over_http(door, redis: Redis, keys: Keyspace, store: EventStore) -> None:
    """hypothesis changes one to three fields of a valid event to anything; whatever it makes is
    either stored whole (and then found) or refused with a 4xx naming a field, storing nothing."""
    _, tokens = door
    accepted: list[str] = []
    refused: list[str] = []
    outcomes: list[tuple[int, set[str]]] = []
    async with api_client(redis, keys, tokens["stats"]) as http:

        @settings(
            max_examples=150, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
        )
        @given(changes=st.dictionaries(st.sampled_from(_FIELDS), _ANY, min_size=1, max_size=3))
        def run(changes: dict[str, Any]) -> None:
            good, bad = valid(), {**valid(), **changes}
            response = _sync(http.post(f"/v1/plans/{PLAN}/events", json=[good, bad]))
            fields = {e["field"] for e in response.json().get("errors", [])}
            outcomes.append((response.status_code, fields))
            if response.status_code in (200, 201):
                accepted.extend(str(e["event_id"]) for e in response.json()["events"])
            else:
                refused.append(good["event_id"])

        await _in_thread(run)
    stored = await stored_ids(store)
    row = TABLE["generated (hypothesis)"]
    for status, fields in outcomes:
        row.tries += 1
        row.server_errors += status >= 500
        row.accepted += status in (200, 201)
        if 400 <= status < 500:
            if fields or status in (401, 409, 413, 415):
                row.clear_4xx += 1
            else:
                row.unclear.append(f"{status} without a field")
    row.partial_writes += len(set(refused) & stored)
    row.lost += len(set(accepted) - stored)
    assert row.tries >= 150 and not row.server_errors and not row.partial_writes and not row.lost and not row.unclear


def _sync(coroutine: Any) -> httpx.Response:
    import asyncio

    return asyncio.run_coroutine_threadsafe(coroutine, _LOOP[0]).result(timeout=30)


_LOOP: list[Any] = []


async def _in_thread(work: Callable[[], None]) -> None:
    """Run hypothesis' synchronous test in a thread, its requests on this test's event loop."""
    import asyncio

    _LOOP[:] = [asyncio.get_running_loop()]
    await asyncio.to_thread(work)


def _assert_clean(categories: list[str]) -> None:
    for category in categories:
        row = TABLE[category]
        assert row.tries and not row.server_errors and not row.partial_writes, (category, row)
        assert not row.unclear and row.clear_4xx == row.tries, (category, row.unclear)


def test_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    """The closing note's table: tries, clear 4xx, 5xx, partial writes, lost, per category."""
    named = sum(row.tries for category, row in TABLE.items() if not category.startswith("generated"))
    assert named >= 50, named
    lines = [
        "| category | tries | accepted | clear 4xx | 5xx | partial writes | lost |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {c} | {r.tries} | {r.accepted} | {r.clear_4xx} | {r.server_errors} | {r.partial_writes} | {r.lost} |"
            for c, r in sorted(TABLE.items())
        ),
    ]
    table = "\n".join(lines)
    if path := os.environ.get("PLANWATCH_BAD_INPUT_TABLE"):
        with open(path, "w", encoding="utf-8") as out:
            out.write(table + "\n")
    with capsys.disabled():
        print("\n" + table)
