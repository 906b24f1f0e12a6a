"""The garbage collector's settings for planwatch's long-running processes and batch jobs."""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger("planwatch.heap")

YOUNG_THRESHOLD = 20_000  # allocations between young collections (CPython's default: 700)


def settle_heap() -> None:
    """Call once a process has loaded what it keeps for its whole life (modules, schemas, the app,
    its clients). Those objects leave the collector's generations, so no collection walks them
    again; and young collections run every 20,000 allocations instead of 700, since a batch of
    500 events allocates some 10,000 objects, all garbage once it is stored. Measured on the API:
    CPU per ingested event 16 → 11.5 µs; on a rebuild, about 6 % faster."""
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 10, 10)
    watch_collections()


_SLOW_COLLECTION_S = 0.1
_collection_started = 0.0


def _time_collections(phase: str, info: dict[str, int]) -> None:
    global _collection_started
    if phase == "start":
        _collection_started = time.perf_counter()
        return
    took = time.perf_counter() - _collection_started
    if took < _SLOW_COLLECTION_S:
        return
    log.warning(
        "a garbage collection of generation %d took %.2f s (%d objects freed): the process was frozen meanwhile",
        info["generation"],
        took,
        info["collected"],
    )
    if info["generation"] == 2:
        # what outlived a full collection is long-lived (a thousand plans' states): out of the
        # collector's way, so the next full collection does not walk it again. Reference counting
        # still frees it; only a cycle among these objects, dropped later, would stay.
        gc.freeze()
        log.info("%d long-lived objects no longer walked by the collector", gc.get_freeze_count())


def watch_collections() -> None:
    """Log every garbage collection that stops the process for 0.1 s or more, and after a slow
    full collection freeze what survived it: with much state held (a worker following a thousand
    plans, 2.4 GB), a full collection walked all of it for 0.5–1.4 s, delaying every plan."""
    if _time_collections not in gc.callbacks:
        gc.callbacks.append(_time_collections)
