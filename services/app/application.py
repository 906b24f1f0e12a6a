"""The application: one object per process, built once from the settings, holding the use cases
every entry point calls (the API, the CLI, the inbox consumer, the scheduler, the dashboard)."""

from __future__ import annotations

from redis.asyncio import Redis

from services.app.access import Access
from services.app.alerting import Alerting
from services.app.deliveries import DeliveryCases
from services.app.ingest import Ingest
from services.app.operations import Operations
from services.app.plans import Plans
from services.app.reports import Reports
from services.app.retractions import Retractions
from services.app.rollups import Rollups
from services.app.sharing import Sharing
from services.app.sheets import Sheets
from services.notify import Deliveries, SubscriptionStore
from services.settings import Settings
from services.store import EventStore, Keyspace, PlanCatalog, Sealer, SessionStore, TokenStore, connect

# A server process trusts a token record read this long (a revoked token is refused within it: the
# promise is one second); a CLI command reads once and ends, so it keeps none.
TOKEN_CACHE_S = 0.5


class App:
    """Use cases by area: `ingest` (who is calling, submit events), `sheets` (template, import),
    `plans` (publish, list), `reports` (table, indicator, projects as of / as known at),
    `rollups`, `retractions`, `access` (tokens bound to plans, sign-ins), `sharing` (signed links),
    `alerting` (alerts, feed, subscriptions), `deliveries` (pending, dead letters, redelivery),
    `operations` (status, readiness, rebuild).
    `token_cache_s`: how long a token's record read is trusted (the API: TOKEN_CACHE_S)."""

    def __init__(
        self, redis: Redis, keys: Keyspace, settings: Settings | None = None, token_cache_s: float = 0.0
    ) -> None:
        self.settings = settings or Settings.from_env()  # `keys` wins over its key prefix
        self.redis, self.keys = redis, keys
        store = EventStore(redis, keys)
        catalog = PlanCatalog(store)
        subscriptions = SubscriptionStore(
            redis, keys, self.settings.allow_private_targets, Sealer(self.settings.secret_key)
        )
        self.store, self.catalog = store, catalog
        sessions = SessionStore(redis, keys, int(self.settings.session_hours * 3600))
        self.access = Access(TokenStore(redis, keys, token_cache_s), sessions, catalog)
        self.ingest = Ingest(store, catalog, self.access)
        self.sheets = Sheets(self.ingest)
        self.retractions = Retractions(self.ingest, store)
        self.plans = Plans(store, catalog)
        self.reports = Reports(self.ingest, store)
        self.rollups = Rollups(redis, keys)
        self.sharing = Sharing(redis, keys, self.settings, self.rollups)
        self.alerting = Alerting(store, subscriptions, self.ingest, self.settings.time_zone)
        self.deliveries = DeliveryCases(subscriptions, Deliveries(redis, keys))
        self.operations = Operations(
            store, catalog, subscriptions, self.settings.ready_max_lag, self.settings.snapshot_every
        )

    @classmethod
    def connect(cls, settings: Settings | None = None, token_cache_s: float = 0.0) -> App:
        """The app on the configured Redis (the embedded server, started if needed, without a URL)."""
        settings = settings or Settings.from_env()
        return cls(connect(settings.redis_target()), settings.keys, settings, token_cache_s)

    async def close(self) -> None:
        await self.redis.aclose()
