"""`planwatch worker`: the process that keeps every plan's projections current."""

from __future__ import annotations

from services.worker.app import create_app, default_worker_id

__all__ = ["create_app", "default_worker_id"]
