"""The collector's watch: slow collections are logged, and what outlives a slow full collection is
frozen out of the collector's way (a worker holding a thousand plans' states paused 0.5–1.4 s)."""

from __future__ import annotations

import gc
import logging

import pytest

from services import heap


@pytest.fixture
def watched(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(heap, "_SLOW_COLLECTION_S", 0.0)  # every collection counts as slow
    heap.watch_collections()
    yield
    gc.callbacks.remove(heap._time_collections)
    gc.unfreeze()


def test_a_slow_full_collection_is_logged_and_what_survived_it_is_frozen(watched, caplog) -> None:
    gc.unfreeze()
    survivors = [{"n": n} for n in range(1000)]
    with caplog.at_level(logging.INFO, logger="planwatch.heap"):
        gc.collect(2)
    assert gc.get_freeze_count() >= len(survivors)
    assert not gc.is_tracked(survivors) or survivors not in gc.get_objects(2)
    messages = [r.getMessage() for r in caplog.records]
    assert any("generation 2 took" in m for m in messages), messages
    assert any("no longer walked by the collector" in m for m in messages), messages


def test_a_slow_young_collection_is_logged_but_freezes_nothing(watched, caplog) -> None:
    gc.unfreeze()
    with caplog.at_level(logging.INFO, logger="planwatch.heap"):
        gc.collect(0)
    assert gc.get_freeze_count() == 0
    assert any("generation 0 took" in r.getMessage() for r in caplog.records)
