"""Dashboard sign-ins, kept in Redis: the cookie holds a random id; Redis holds, under the id's
SHA-256, the token it was opened with and the session's CSRF token, expiring after a while
without use. The token is checked again on every request (services.app.access), so revoking it
ends every session opened with it."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.asyncio import Redis

from services.store.keys import Keyspace


@dataclass(frozen=True)
class Session:
    id: str  # the cookie's value (never stored as such)
    token_id: str
    csrf: str  # every form of the session carries it
    created_at: str


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    def __init__(self, redis: Redis, keys: Keyspace, ttl_s: int) -> None:
        self.redis, self.keys, self.ttl_s = redis, keys, ttl_s

    async def create(self, token_id: str) -> Session:
        session = Session(
            id=secrets.token_urlsafe(32),
            token_id=token_id,
            csrf=secrets.token_urlsafe(24),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        key = self.keys.session(_digest(session.id))
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"token_id": token_id, "csrf": session.csrf, "created_at": session.created_at})
            pipe.expire(key, self.ttl_s)
            await pipe.execute()
        return session

    async def get(self, session_id: str) -> Session | None:
        """The session, its expiry pushed back (it lasts `ttl_s` after its last use); None if unknown
        or expired."""
        if not session_id or len(session_id) > 100:
            return None
        key = self.keys.session(_digest(session_id))
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(key)
            pipe.expire(key, self.ttl_s)
            fields, _ = await pipe.execute()
        if not fields or "token_id" not in fields:
            return None
        return Session(session_id, str(fields["token_id"]), str(fields["csrf"]), str(fields.get("created_at", "")))

    async def delete(self, session_id: str) -> None:
        await self.redis.delete(self.keys.session(_digest(session_id)))
