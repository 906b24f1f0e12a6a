"""The fold's state and the alert book as JSON, so a projector resumes from its last commit."""

from __future__ import annotations

from pydantic import TypeAdapter

from projections.alerts import AlertBook
from projections.state import PlanState

_adapter: TypeAdapter[PlanState] = TypeAdapter(PlanState)
_book_adapter: TypeAdapter[AlertBook] = TypeAdapter(AlertBook)


def dump_state(state: PlanState) -> bytes:
    return _adapter.dump_json(state)


def load_state(data: str | bytes) -> PlanState:
    return _adapter.validate_json(data)


def dump_book(book: AlertBook) -> bytes:
    return _book_adapter.dump_json(book)


def load_book(data: str | bytes) -> AlertBook:
    return _book_adapter.validate_json(data)
