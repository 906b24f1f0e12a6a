"""Storage on Redis: the event store, the keyspace, leases, Redis' clock, the connection (or the
embedded server), the plan catalog and the API tokens. Other rooms import from here, not from
the modules inside."""

from __future__ import annotations

from services.store.announcements import Announcements, Hearer
from services.store.catalog import PlanCatalog
from services.store.clock import redis_now_ms
from services.store.connection import (
    CLUSTER_SCHEMES,
    EmbeddedRedis,
    EmbeddedStopped,
    client_name,
    connect,
    connect_sync,
    embedded_binary,
    is_cluster,
    is_cluster_url,
    node_url_for_key,
    plain_url,
)
from services.store.events import (
    AppendResult,
    EventIdReused,
    EventStore,
    PlanChanged,
    PlanNotEmpty,
    RawEntry,
    Restored,
    VersionConflict,
    digest_of,
    entry_data,
)
from services.store.keys import Keyspace, stored_type
from services.store.lease import Lease, LeaseKeeper, Offers
from services.store.sealing import CannotUnseal, Sealer
from services.store.sessions import Session, SessionStore
from services.store.signing import LINK_TTL_S, SignedLinks, shared_rollup_path, signing_key
from services.store.tokens import ROLES, Role, TokenInfo, TokenStore
from services.store.values import is_position, stored_int
from services.store.wrongtype import DamagedKey, drop_damaged, is_wrong_type, warn_once

__all__ = [
    "CLUSTER_SCHEMES",
    "LINK_TTL_S",
    "ROLES",
    "Announcements",
    "AppendResult",
    "CannotUnseal",
    "DamagedKey",
    "EmbeddedRedis",
    "EmbeddedStopped",
    "EventIdReused",
    "EventStore",
    "Hearer",
    "Keyspace",
    "Lease",
    "LeaseKeeper",
    "Offers",
    "PlanCatalog",
    "PlanChanged",
    "PlanNotEmpty",
    "RawEntry",
    "Restored",
    "Role",
    "Sealer",
    "Session",
    "SessionStore",
    "SignedLinks",
    "TokenInfo",
    "TokenStore",
    "VersionConflict",
    "client_name",
    "connect",
    "connect_sync",
    "digest_of",
    "drop_damaged",
    "embedded_binary",
    "entry_data",
    "is_cluster",
    "is_cluster_url",
    "is_position",
    "is_wrong_type",
    "node_url_for_key",
    "plain_url",
    "redis_now_ms",
    "shared_rollup_path",
    "signing_key",
    "stored_int",
    "stored_type",
    "warn_once",
]
