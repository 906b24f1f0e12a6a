"""The HTTP API (FastAPI); `create_api` builds the app."""

from __future__ import annotations

from services.api.app import create_api

__all__ = ["create_api"]
