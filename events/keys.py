"""Redis key names. Every key of a plan carries the hash tag `{plan_id}`, so one plan lives in
one Redis Cluster slot and a Lua script may touch all of them."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

_PREFIX = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


@dataclass(frozen=True)
class Keyspace:
    """All key names in one place. `prefix` separates installations (and tests) on one server."""

    prefix: str = "pw"

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.prefix):
            raise ValueError(f"key prefix {self.prefix!r} must be 1..40 of A-Z a-z 0-9 _ . -")

    @classmethod
    def from_env(cls) -> Keyspace:
        return cls(os.environ.get("PLANWATCH_KEY_PREFIX", "pw"))

    def plan(self, plan_id: str) -> str:
        return f"{self.prefix}:{{{plan_id}}}"

    @property
    def plans(self) -> str:
        """Set of plan ids that have an event stream (not hash-tagged: it spans plans)."""
        return f"{self.prefix}:plans"

    def events(self, plan_id: str) -> str:
        """The plan's append-only event stream. Never trimmed."""
        return f"{self.plan(plan_id)}:events"

    def event_ids(self, plan_id: str) -> str:
        """Hash event_id → "position|digest": permanent dedup of retries."""
        return f"{self.plan(plan_id)}:event-ids"

    def versions(self, plan_id: str) -> str:
        """Hash subject → number of events stored for it (optimistic concurrency)."""
        return f"{self.plan(plan_id)}:versions"
