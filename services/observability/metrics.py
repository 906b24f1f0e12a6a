"""Every Prometheus metric planwatch exposes, defined once; the processes update them where things
happen (ingest, the store's append, the projections, the notifier, the rollups, rebuilds).

The API serves them at `/metrics`; the worker, the notifier and the scheduler with
`--metrics-port`. With `planwatch api --workers N` (N > 1) every uvicorn process writes its values
to files under `PROMETHEUS_MULTIPROC_DIR` and `/metrics` adds them up (`exposition()`): the variable
is set by `planwatch api` before any process imports prometheus_client.

Labels stay bounded: plans (hundreds in a province), projections (2), channels (5), entry points
(3), refusal reasons (the API's error codes) and outcomes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from time import perf_counter

# prometheus_client opens its value files there at the first metric: the directory must exist
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)

EVENTS_ACCEPTED = Counter(
    "planwatch_events_accepted",
    "Events submitted and stored, by entry point (http, inbox, sheet) and plan",
    ["entry", "plan"],
)
EVENTS_DUPLICATE = Counter(
    "planwatch_events_duplicate",
    "Events submitted again (same event_id and content): answered with the original position, stored once",
    ["entry", "plan"],
)
EVENTS_REFUSED = Counter(
    "planwatch_events_refused",
    "Submissions refused, by entry point and reason (unauthorized, forbidden, not_found, invalid, conflict, "
    "too_large): nothing of them was stored",
    ["entry", "reason"],
)
APPEND_SECONDS = Histogram(
    "planwatch_append_seconds",
    "Time of one atomic append (a batch) to a plan's log, Redis round trip included",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
PROJECTION_LAG = Gauge(
    "planwatch_projection_lag_events",
    "Events in a plan's log that a projection (rm: read model, alerts) has not applied or parked yet; "
    "reported by the worker holding it",
    ["plan", "projection"],
    multiprocess_mode="livemax",
)
CHECKPOINT_AGE = Gauge(
    "planwatch_projection_checkpoint_age_seconds",
    "How long the oldest event a projection has not applied yet has been in the log (0 when caught up)",
    ["plan", "projection"],
    multiprocess_mode="livemax",
)
DEAD_LETTERS = Gauge(
    "planwatch_projection_dead_letters",
    "Entries in a projection's dead letters: events parked after repeated failures, judgements skipped",
    ["plan", "projection"],
    multiprocess_mode="livemax",
)
EVENTS_PARKED = Counter(
    "planwatch_events_parked",
    "Events a projection parked in its dead letters after repeated failures to apply them",
    ["plan", "projection"],
)
DELIVERIES = Counter(
    "planwatch_deliveries",
    "Alert deliveries (one message, or one summary of several notices) by channel and outcome: sent, "
    "retried (a retryable failure, to be tried again), dead (given up)",
    ["channel", "outcome"],
)
ROLLUPS_WRITTEN = Counter("planwatch_rollups_written", "Monthly rollup versions published", ["plan"])
EVENTS_FOLDED = Counter(
    "planwatch_events_folded",
    "Log entries folded on demand past the snapshot a reader started from, by reader (query: as of / "
    "as known at; rollup) and plan",
    ["reader", "plan"],
)
REBUILD_DONE = Gauge(
    "planwatch_rebuild_events_done",
    "Events a running rebuild of a projection has replayed so far",
    ["plan", "projection"],
    multiprocess_mode="livemax",
)
REBUILD_TOTAL = Gauge(
    "planwatch_rebuild_events_total",
    "Events a running rebuild of a projection has to replay (the log's length when last looked at)",
    ["plan", "projection"],
    multiprocess_mode="livemax",
)
REDIS_UP = Gauge(
    "planwatch_redis_up",
    "1 while this process reaches Redis, 0 after its last attempt failed",
    multiprocess_mode="livemin",
)

OUTCOMES = ("sent", "retried", "dead")


@contextmanager
def timed_append() -> Iterator[None]:
    """Observe the time of one append into APPEND_SECONDS."""
    start = perf_counter()
    try:
        yield
    finally:
        APPEND_SECONDS.observe(perf_counter() - start)


def multiprocess_dir() -> str | None:
    """Where the processes of `planwatch api --workers N` write their values (None: one process)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition() -> tuple[bytes, str]:
    """The metrics of this process — or of every API process, in multiprocess mode — as Prometheus'
    text format, and its content type."""
    directory = multiprocess_dir()
    if directory is None:
        from prometheus_client import REGISTRY

        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def serve_metrics(port: int | None, host: str = "127.0.0.1") -> None:
    """`--metrics-port`: serve this process's metrics at http://host:port/metrics (nothing without a port)."""
    if port is not None:
        start_http_server(port, addr=host)


def forget_projection(plan: str, projection: str) -> None:
    """A worker no longer holds the projection: another one reports it now."""
    for gauge in (PROJECTION_LAG, CHECKPOINT_AGE, DEAD_LETTERS):
        try:
            gauge.remove(plan, projection)
        except KeyError:
            pass
