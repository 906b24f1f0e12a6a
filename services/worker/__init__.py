"""`planwatch worker`: the process that keeps every plan's projections current."""

from __future__ import annotations

from services.worker.app import CONNECTION_BOUND, STOP_GRACE_S, client_name, create_app, default_worker_id
from services.worker.pool import WorkerArguments, WorkerPool

__all__ = [
    "CONNECTION_BOUND",
    "STOP_GRACE_S",
    "WorkerArguments",
    "WorkerPool",
    "client_name",
    "create_app",
    "default_worker_id",
]
