"""The fold's state and the alert book as stored text, so a projector resumes from its last commit
(packed: `projections.packing`)."""

from __future__ import annotations

from pydantic import TypeAdapter

from projections.alerts import AlertBook
from projections.packing import pack, unpack
from projections.state import PlanState

_adapter: TypeAdapter[PlanState] = TypeAdapter(PlanState)
_book_adapter: TypeAdapter[AlertBook] = TypeAdapter(AlertBook)


def dump_state(state: PlanState) -> bytes:
    return pack(_adapter.dump_json(state))


def load_state(data: str | bytes) -> PlanState:
    return _adapter.validate_json(unpack(data))


def dump_book(book: AlertBook) -> bytes:
    return pack(_book_adapter.dump_json(book))


def load_book(data: str | bytes) -> AlertBook:
    return _book_adapter.validate_json(unpack(data))
