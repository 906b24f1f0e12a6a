"""The garbage collector's settings for planwatch's long-running processes and batch jobs."""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000  # allocations between young collections (CPython's default: 700)


def settle_heap() -> None:
    """Call once a process has loaded what it keeps for its whole life (modules, schemas, the app,
    its clients). Those objects leave the collector's generations, so no collection walks them
    again; and young collections run every 20,000 allocations instead of 700, since a batch of
    500 events allocates some 10,000 objects, all garbage once it is stored. Measured on the API:
    CPU per ingested event 16 → 11.5 µs; on a rebuild, about 6 % faster."""
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 10, 10)
