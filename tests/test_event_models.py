"""Event models: every type round-trips through JSON; bad input names the field and the reason."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from events.codec import decode, decode_payload, encode
from events.errors import field_errors
from events.models import EVENT_TYPES, parse_event
from events.periods import Period
from tests.conftest import ROOT
from tests.factories import AT, one_of_each


def test_one_of_each_covers_every_type() -> None:
    assert sorted(e.type for e in one_of_each()) == sorted(EVENT_TYPES)


@pytest.mark.parametrize("event", one_of_each(), ids=lambda e: e.type)
def test_json_round_trip_is_exact(event) -> None:
    again = parse_event(event.model_dump_json())
    assert again == event
    assert again.occurred_at.utcoffset() == AT.utcoffset()


def test_stored_form_leaves_recorded_at_to_the_store() -> None:
    event = one_of_each()[2]
    data = encode(event).decode()
    assert "recorded_at" not in data
    back = decode("1751938215123-0", data)
    assert back.recorded_at.isoformat() == "2025-07-08T01:30:15.123000+00:00"
    assert back.model_copy(update={"recorded_at": None}) == event
    assert back.value == Decimal("5.50") and str(back.value) == "5.50"


def _valid() -> dict:
    return one_of_each()[2].model_dump(mode="json")


def _error_fields(data: dict) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        parse_event(data)
    errors = field_errors(info.value)
    assert all(e.reason_zh for e in errors)
    return {e.field: e.reason for e in errors}


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"period": "2025-13"}, "period", "month must be 01..12"),
        ({"period": "25-06"}, "period", "is not one of YYYY-MM"),
        ({"plan_id": "Rong Chang"}, "plan_id", "should match pattern"),
        ({"value": "NaN"}, "value", "finite"),
        ({"occurred_at": "2025-07-10T09:30:00"}, "occurred_at", "timezone"),
        ({"event_id": "not-a-uuid"}, "event_id", "UUID"),
        ({"schema_version": 2}, "schema_version", "1"),
        ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
    ],
)
def test_bad_field_is_named_with_reason(change: dict, field: str, reason: str) -> None:
    errors = _error_fields({**_valid(), **change})
    assert field in errors, errors
    assert reason.lower() in errors[field].lower()


def test_missing_field_is_named() -> None:
    data = _valid()
    del data["subject"]
    assert _error_fields(data) == {"subject": "Field required"}


def test_unknown_type_is_rejected_naming_type() -> None:
    errors = _error_fields({**_valid(), "type": "indicator.deleted"})
    assert list(errors) == ["type"]
    assert "indicator.updated" in errors["type"]  # the message lists the known tags


def test_negative_investment_is_rejected() -> None:
    data = one_of_each()[5].model_dump(mode="json")
    errors = _error_fields({**data, "amount_wan": "-5"})
    assert "greater than or equal to 0" in errors["amount_wan"]


def test_plan_published_must_match_its_plan() -> None:
    data = one_of_each()[0].model_dump(mode="json")
    errors = _error_fields({**data, "plan_id": "other-2025", "subject": "other-2025"})
    assert set(errors) == {"plan_id", "subject"}  # the fields that disagree, not "(body)"
    assert "must have plan_id and subject 'test-2025'" in errors["plan_id"]
    # only the field that disagrees is named
    assert set(_error_fields({**data, "plan_id": "other-2025"})) == {"plan_id"}
    assert set(_error_fields({**data, "subject": "other-2025"})) == {"subject"}


@pytest.mark.parametrize(
    ("text", "kind", "end"),
    [
        ("2025-06", "month", "2025-06-30"),
        ("2025-Q2", "quarter", "2025-06-30"),
        ("2025-H1", "half", "2025-06-30"),
        ("2025", "year", "2025-12-31"),
        ("2024-02", "month", "2024-02-29"),
    ],
)
def test_periods(text: str, kind: str, end: str) -> None:
    period = Period.parse(text)
    assert period.kind == kind and period.end.isoformat() == end


def _period_candidates() -> list[str]:
    years = ["1999", "2000", "2025", "2099", "2100", "2101", "0000", "25", "２０２５"]
    tails = ["", "-00", "-1", "-001", "-Q0", "-Q5", "-H0", "-H3", "-q2", "-06\n", " ", "-06-01"]
    tails += [f"-{m:02d}" for m in range(1, 14)] + [f"-Q{q}" for q in range(1, 5)] + ["-H1", "-H2"]
    return [year + tail for year in years for tail in tails]


def test_period_pattern_accepts_exactly_what_period_parse_accepts() -> None:
    """Events check periods with PERIOD_PATTERN (in Rust); folds parse them with Period.parse: the
    two must agree, and a refused period is explained by Period.parse's reason."""
    for text in _period_candidates():
        try:
            Period.parse(text)
            parses = True
        except ValueError:
            parses = False
        errors = _error_fields({**_valid(), "period": text}) if not parses else {}
        if parses:
            assert parse_event({**_valid(), "period": text}).period == text
        else:
            assert errors["period"].startswith(f"period {text!r}"), (text, errors)


STORED_V1 = ROOT / "tests" / "data" / "stored_events_v1.jsonl"


def test_events_stored_by_this_version_stay_readable_and_encode_the_same() -> None:
    """The log is forever: every event stored so far must still decode, and encode to the very
    same bytes, since the store's dedup compares digests of that encoding (a retry of an old
    event would otherwise be refused as an id reused for other content). A model change that
    fails here needs an upcaster for schema_version 1, not a new golden file."""
    lines = STORED_V1.read_bytes().splitlines()
    assert {decode_payload(line.decode()).type for line in lines} == set(EVENT_TYPES)
    for line in lines:
        assert encode(decode_payload(line.decode())) == line
