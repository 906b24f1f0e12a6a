"""Schema versions and upcasters: plan.published is at version 2 (it records who published, and a
new plan must meet the plan rules); version 1 events, as the golden file holds them, are upcast on
reading, read under the rules of their time, and re-encode to their stored bytes."""

from __future__ import annotations

import json

from redis.asyncio import Redis

from events.codec import Unreadable, decode, decode_payload, decode_stored, encode
from events.models import PlanPublished
from events.upcasting import CURRENT, UPCASTERS, upcast
from services.app import App
from services.store import EventStore, Keyspace, TokenStore
from tests.conftest import ROOT, api_client
from tests.factories import small_plan

GOLDEN = ROOT / "tests" / "data" / "stored_events_v1.jsonl"


def golden_plan_line() -> str:
    return next(line for line in GOLDEN.read_text().splitlines() if '"type":"plan.published"' in line)


def test_every_current_version_above_one_has_its_upcasters() -> None:
    for event_type, version in CURRENT.items():
        assert all((event_type, v) in UPCASTERS for v in range(1, version)), event_type


def test_a_version_1_plan_is_upcast_on_reading_and_encodes_to_its_stored_bytes() -> None:
    line = golden_plan_line()
    assert json.loads(line)["schema_version"] == 1
    event = decode_payload(line)
    assert isinstance(event, PlanPublished)
    assert (event.schema_version, event.published_by) == (2, None)
    assert encode(event) == line.encode()  # the log is never rewritten
    with_time = decode("1751938215123-0", line)
    assert with_time.recorded_at is not None and encode(with_time) == line.encode()
    fresh = PlanPublished.model_validate({**json.loads(line), "schema_version": 2, "published_by": "cli"})
    assert json.loads(encode(fresh))["schema_version"] == 2  # new events are written as version 2


def test_a_version_1_plan_is_read_under_the_rules_of_its_time() -> None:
    data = json.loads(golden_plan_line())
    data["plan"]["projects"][0]["planned_start"] = "2031-01"  # fine then, refused for a new 2025 plan
    data["plan"]["projects"][0]["planned_completion"] = "2031-06"
    old = decode_stored(json.dumps(data, ensure_ascii=False))
    assert isinstance(old, PlanPublished) and old.plan.projects[0].planned_start == "2031-01"
    as_new = decode_stored(json.dumps({**data, "schema_version": 2}, ensure_ascii=False))
    assert isinstance(as_new, Unreadable) and "planned_start" in as_new.reason


def test_an_entry_s_data_is_read_as_text_or_as_bytes() -> None:
    """A reader passes the stream entry's data as it came: text, or bytes from a client that does
    not decode replies. Bytes are read alike, upcast alike, and bytes that are no UTF-8 are
    unreadable, not an error."""
    line = golden_plan_line()
    as_text, as_bytes = decode_stored(line), decode_stored(line.encode())
    assert isinstance(as_bytes, PlanPublished) and as_bytes == as_text
    assert encode(as_bytes) == line.encode()  # a version 1 plan re-encodes to its stored bytes
    broken = decode_stored(b'{"type": "indicator.updated", "subject": "gdp\xff"}')
    assert isinstance(broken, Unreadable) and broken.event_type == "indicator.updated"


def test_an_unknown_version_is_not_guessed() -> None:
    data = {**json.loads(golden_plan_line()), "schema_version": 9}
    assert upcast(data) is None
    assert isinstance(decode_stored(json.dumps(data)), Unreadable)


async def test_a_new_plan_must_meet_the_plan_rules_and_records_its_publisher(
    redis: Redis, keys: Keyspace, store: EventStore
) -> None:
    admin, info = await TokenStore(redis, keys).create("admin")
    plan = small_plan("rules-2025").model_dump(mode="json")
    async with api_client(redis, keys, admin) as http:
        late = json.loads(json.dumps(plan))
        late["projects"][0].update(planned_start="2031-01", planned_completion="2031-06")
        refused = await http.put("/v1/plans/rules-2025", json=late)
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["projects[0].planned_start"]
        huge = json.loads(json.dumps(plan))
        huge["projects"][0]["planned_investment_wan"] = "1e400"
        assert (await http.put("/v1/plans/rules-2025", json=huge)).status_code == 422
        assert await store.length("rules-2025") == 0
        assert (await http.put("/v1/plans/rules-2025", json=plan)).status_code == 201
    [stored] = await store.read("rules-2025")
    assert isinstance(stored.event, PlanPublished)
    assert (stored.event.schema_version, stored.event.published_by) == (2, info.id)
    assert (await App(redis, keys).catalog.get("rules-2025")) is not None
