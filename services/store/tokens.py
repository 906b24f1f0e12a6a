"""API tokens: who is calling, and in which role.

A token reads `pwt_<id>_<secret>`. Only a SHA-256 of the secret is stored (hash `pw:tokens`,
field = id), so a leaked database does not leak tokens; the text is shown once, at creation.
Roles: `department` (posts progress for the subjects its department owns, reads),
`analyst` (reads), `admin` (publishes plans, manages tokens and subscriptions, reads).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Literal

from redis.asyncio import Redis

from services.store.keys import Keyspace

Role = Literal["department", "analyst", "admin"]
ROLES: tuple[Role, ...] = ("department", "analyst", "admin")
_TOKEN = re.compile(r"^pwt_(?P<id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{20,64})$")
_DEPARTMENT = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class TokenInfo:
    id: str
    role: Role
    department: str | None
    name: str
    created_at: str
    revoked_at: str | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def public(self) -> dict[str, str | None]:
        return asdict(self)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    def __init__(self, redis: Redis, keys: Keyspace) -> None:
        self.redis, self.keys = redis, keys

    async def create(self, role: Role, department: str | None = None, name: str = "") -> tuple[str, TokenInfo]:
        """A new token; returns its text (shown once) and its record."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if role == "department":
            if not department or not _DEPARTMENT.match(department):
                raise ValueError("a department token needs --department, an id like stats or fgw")
        elif department:
            raise ValueError(f"a {role} token belongs to no department")
        token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(24)
        info = TokenInfo(token_id, role, department, name, datetime.now(UTC).isoformat(timespec="seconds"))
        record = {**asdict(info), "hash": _digest(secret)}
        await self.redis.hset(self.keys.tokens, token_id, json.dumps(record, ensure_ascii=False))
        return f"pwt_{token_id}_{secret}", info

    async def verify(self, token: str) -> TokenInfo | None:
        """The token's record if the token is well-formed, known, matches and is not revoked."""
        match = _TOKEN.match(token or "")
        if not match:
            return None
        raw = await self.redis.hget(self.keys.tokens, match["id"])
        if raw is None:
            return None
        record = json.loads(raw)
        if not hmac.compare_digest(record.pop("hash"), _digest(match["secret"])):
            return None
        info = TokenInfo(**record)
        return None if info.revoked else info

    async def info(self, token_id: str) -> TokenInfo | None:
        """The record of a token that is known and not revoked (a dashboard session checks it on
        every request, so revoking the token ends the session)."""
        raw = await self.redis.hget(self.keys.tokens, token_id)
        if raw is None:
            return None
        record = json.loads(raw)
        record.pop("hash")
        info = TokenInfo(**record)
        return None if info.revoked else info

    async def list(self) -> list[TokenInfo]:
        records = [json.loads(raw) for raw in (await self.redis.hgetall(self.keys.tokens)).values()]
        for record in records:
            record.pop("hash")
        return sorted((TokenInfo(**r) for r in records), key=lambda t: t.created_at)

    async def revoke(self, token_id: str) -> bool:
        """Revoke a token (kept, marked revoked, for the record). False if there is no such token."""
        raw = await self.redis.hget(self.keys.tokens, token_id)
        if raw is None:
            return False
        record = json.loads(raw)
        if record.get("revoked_at") is None:
            record["revoked_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            await self.redis.hset(self.keys.tokens, token_id, json.dumps(record, ensure_ascii=False))
        return True

    @staticmethod
    def id_of(token: str) -> str | None:
        """The id part of a token's text (safe to log)."""
        match = _TOKEN.match(token or "")
        return match["id"] if match else None
