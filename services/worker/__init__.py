"""`planwatch worker`: the process that keeps every plan's projections current."""

from __future__ import annotations

from services.worker.app import CONNECTION_BOUND, client_name, create_app, default_worker_id

__all__ = ["CONNECTION_BOUND", "client_name", "create_app", "default_worker_id"]
