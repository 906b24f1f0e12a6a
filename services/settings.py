"""Settings: everything planwatch reads from the environment, read in one place.

| variable | meaning | default |
|---|---|---|
| `PLANWATCH_REDIS_URL` | the Redis to use (`redis://`, `rediss://`, `unix://`) | the embedded server |
| `PLANWATCH_HOME` | directory of the embedded server | `.planwatch/` |
| `PLANWATCH_KEY_PREFIX` | first part of every key, to share a server | `pw` |
| `PLANWATCH_READY_MAX_LAG` | `/readyz` is not ready while a projection lags more events than this | 1000 |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from services.store import EmbeddedRedis, Keyspace


@dataclass(frozen=True)
class Settings:
    redis_url: str | None = None  # None: the embedded server under `home`
    key_prefix: str = "pw"
    home: Path = Path(".planwatch")
    ready_max_lag: int = 1000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            redis_url=environ.get("PLANWATCH_REDIS_URL") or None,
            key_prefix=environ.get("PLANWATCH_KEY_PREFIX", "pw"),
            home=Path(environ.get("PLANWATCH_HOME") or ".planwatch"),
            ready_max_lag=int(environ.get("PLANWATCH_READY_MAX_LAG", "1000")),
        )

    @property
    def keys(self) -> Keyspace:
        return Keyspace(self.key_prefix)

    def redis_target(self) -> str:
        """The Redis URL to connect to: the configured one, or the embedded server (started if needed)."""
        return self.redis_url or EmbeddedRedis(self.home).ensure_running()
