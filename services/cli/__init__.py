"""`planwatch`: one console command for every part of the service."""

from __future__ import annotations

from services.cli.main import main

__all__ = ["main"]
