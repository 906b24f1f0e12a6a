"""Signed links: an address that opens one document, read-only, until it expires, for whoever
has it — a leader tapping "查看详情" in a WeCom group on a phone, with no token.

The signature is an HMAC-SHA256 of the path, the version and the expiry under the installation's
signing key: `PLANWATCH_SECRET_KEY` when set (several servers must then share it), else a key
generated once and kept in Redis (every process on that Redis uses it). Changing the key voids
every link given out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from redis.asyncio import Redis

from services.store.keys import Keyspace

LINK_TTL_S = 30 * 24 * 3600  # a month: until the next month's report replaces it


async def signing_key(redis: Redis, keys: Keyspace, configured: str | None = None) -> bytes:
    """The configured key, or the one kept in Redis (created by the first process to ask)."""
    if configured:
        return configured.encode()
    await redis.set(keys.signing_key, secrets.token_urlsafe(32), nx=True)
    stored = await redis.get(keys.signing_key)
    return str(stored).encode()


def shared_rollup_path(plan_id: str, period: str, fmt: str) -> str:
    """Where a shared rollup opens (the dashboard serves it without sign-in)."""
    return f"/shared/plans/{plan_id}/rollups/{period}.{fmt}"


@dataclass(frozen=True)
class SignedLinks:
    key: bytes
    public_url: str | None  # None: links cannot be made (messages then carry none)

    @classmethod
    async def load(
        cls, redis: Redis, keys: Keyspace, public_url: str | None, configured_key: str | None = None
    ) -> SignedLinks:
        return cls(await signing_key(redis, keys, configured_key), public_url.rstrip("/") if public_url else None)

    def signature(self, path: str, version: int, expires: int) -> str:
        message = f"{path}\n{version}\n{expires}".encode()
        digest = hmac.new(self.key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def valid(self, path: str, version: int, expires: int, signature: str, now: float | None = None) -> bool:
        """Whether `signature` was made by `sign` for this path, version and expiry, and it has not expired."""
        if expires < (time.time() if now is None else now):
            return False
        return hmac.compare_digest(self.signature(path, version, expires), signature)

    def sign(self, path: str, version: int, ttl_s: int = LINK_TTL_S, now: float | None = None) -> str:
        """`path` with its query: `?v=…&expires=…&sig=…` (relative: prefix the public URL yourself)."""
        expires = int(time.time() if now is None else now) + ttl_s
        query = urlencode({"v": version, "expires": expires, "sig": self.signature(path, version, expires)})
        return f"{path}?{query}"

    def rollup(self, plan_id: str, period: str, version: int, fmt: str = "html") -> str | None:
        """The public, signed address of one version of a month's rollup; None without a public URL."""
        if not self.public_url:
            return None
        return self.public_url + self.sign(shared_rollup_path(plan_id, period, fmt), version)

    def page(self, path: str) -> str | None:
        """A dashboard page's public address (it asks the reader to sign in); None without a public URL."""
        return self.public_url + path if self.public_url else None
