"""Fuzzing the running API from its own OpenAPI document (schemathesis): no 5xx, no partial writes."""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from services.app import AppError, prepare, publish_plan
from services.store import EventStore, Keyspace, TokenInfo, TokenStore
from tests.factories import small_plan

PLAN = "test-2025"
ADMIN_ONLY = ("/v1/tokens", "/v1/subscriptions")  # paths whose every operation needs an admin token


def with_a_valid_event(body: object) -> tuple[object, str]:
    """Put a valid event (for `gdp`, owned by the token's department) in front of a generated batch:
    if the generated part is refused, a partial write would store the valid one."""
    event_id = str(uuid.uuid4())
    valid = {
        "event_id": event_id,
        "type": "indicator.updated",
        "subject": "gdp",
        "period": "2025-06",
        "occurred_at": "2025-07-15T10:00:00+08:00",
        "value": "5.5",
    }
    if isinstance(body, dict) and "type" not in body and isinstance(body.get("events"), list):
        return {**body, "events": [valid, *body["events"]]}, event_id
    if isinstance(body, list):
        return [valid, *body], event_id
    return [valid, body], event_id


@dataclass
class Tally:
    calls: int = 0
    accepted_events: int = 0
    refused_valid: list[str] = field(default_factory=list)
    statuses: defaultdict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))  # per operation


def fuzz_operation(operation, api_url: str, bearer: str, tally: Tally) -> None:
    examples = 200 if operation.path.endswith("/events") else 25  # the write path gets the most
    posts_events = operation.path.endswith("/events")

    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True
    )
    def fuzz(case) -> None:
        valid_id = None
        if "plan" in (case.path_parameters or {}) and tally.calls % 2:
            case.path_parameters["plan"] = PLAN  # half the cases aim at a real plan
            if posts_events:
                case.body, valid_id = with_a_valid_event(case.body)
        response = case.call(base_url=api_url, headers={"Authorization": f"Bearer {bearer}"})
        tally.calls += 1
        tally.statuses[f"{operation.method.upper()} {operation.path}"][response.status_code] += 1
        assert response.status_code < 500, case.as_curl_command()
        if posts_events and response.status_code in (200, 201):
            tally.accepted_events += response.json()["stored"]
        elif valid_id:
            tally.refused_valid.append(valid_id)

    fuzz()


async def test_fuzzed_requests_never_fail_with_5xx_or_store_part_of_a_batch(
    api_url: str, redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    await publish_plan(store, small_plan(PLAN))
    token, _ = await TokenStore(redis, keys).create("department", "stats")
    admin, _ = await TokenStore(redis, keys).create("admin")
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    tally = Tally()
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.endswith("/alerts/stream"):
            continue  # an endless event stream has no response to check; tested in test_notifier.py
        # admin-only operations get the admin token, so fuzzing reaches their validation too
        admin_only = operation.path.startswith(ADMIN_ONLY) or operation.method.upper() == "PUT"
        admin_only = admin_only or operation.path.endswith("/draft")  # drafting a plan is the admin's
        fuzz_operation(operation, api_url, admin if admin_only else token, tally)

    assert tally.calls > 100 and len(tally.refused_valid) > 50
    # the admin-only operations were fuzzed past authorisation, into their validation
    admin_ops = {op: codes for op, codes in tally.statuses.items() if op.split()[1].startswith(ADMIN_ONLY)}
    assert {"POST /v1/subscriptions", "POST /v1/tokens"} <= set(admin_ops), tally.statuses
    assert not any(codes[403] for codes in admin_ops.values()), admin_ops
    assert tally.statuses["POST /v1/subscriptions"][422] > 0, tally.statuses["POST /v1/subscriptions"]
    drafts = tally.statuses["POST /v1/plans/{plan}/draft"]
    assert drafts[422] > 0 and not drafts[403], drafts  # fuzzed files reach the drafting, and are refused
    compared = tally.statuses["POST /v1/plans/{plan}/compare"]
    assert compared[422] > 0, compared  # fuzzed files reach the report's reading, and are refused
    # every event in the log came from a request that was accepted whole
    stored_ids = {str(s.event.event_id) for s in await store.read(PLAN, limit=10_000)}  # every one reads back
    assert len(stored_ids) == await store.length(PLAN) == 1 + tally.accepted_events
    assert not stored_ids & set(tally.refused_valid)  # no valid event of a refused batch was stored


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
_FIELDS = ["event_id", "type", "subject", "period", "occurred_at", "value", "plan_id", "department", "recorded_at"]
_VALID = {
    "event_id": "0b9a3c1e-8a51-4a57-9a1f-3d0c5e7b2f10",
    "type": "indicator.updated",
    "subject": "gdp",
    "period": "2025-06",
    "occurred_at": "2025-07-15T10:00:00+08:00",
    "value": "5.5",
}


@given(st.lists(st.dictionaries(st.sampled_from(_FIELDS), _JSON, max_size=4) | _JSON, min_size=1, max_size=4))
@settings(max_examples=300, deadline=None, database=None, derandomize=True)
def test_any_json_in_any_field_is_accepted_or_refused_never_a_crash(overrides: list) -> None:
    """The one ingest path behind HTTP, the inbox and imports: whatever JSON a sender puts in
    whatever field, the answer is events or an AppError (a 4xx naming fields), nothing else."""
    payloads = [{**_VALID, **item} if isinstance(item, dict) else item for item in overrides]
    caller = TokenInfo("t1", "department", "stats", "fuzz", "2025-01-01T00:00:00+00:00")
    try:
        prepare(caller, small_plan(PLAN), payloads)
    except AppError as refused:
        assert refused.errors or refused.status in (403, 413), refused.body()
