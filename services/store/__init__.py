"""Storage on Redis: the event store, the keyspace, leases, Redis' clock, the connection (or the
embedded server), the plan catalog and the API tokens. Other rooms import from here, not from
the modules inside."""

from __future__ import annotations

from services.store.catalog import PlanCatalog
from services.store.clock import redis_now_ms
from services.store.connection import EmbeddedRedis, connect, embedded_binary
from services.store.events import AppendResult, EventIdReused, EventStore, VersionConflict
from services.store.keys import Keyspace
from services.store.lease import Lease
from services.store.tokens import Role, TokenInfo, TokenStore

__all__ = [
    "AppendResult",
    "EmbeddedRedis",
    "EventIdReused",
    "EventStore",
    "Keyspace",
    "Lease",
    "PlanCatalog",
    "Role",
    "TokenInfo",
    "TokenStore",
    "VersionConflict",
    "connect",
    "embedded_binary",
    "redis_now_ms",
]
