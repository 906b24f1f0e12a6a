"""API tokens: who is calling, and in which role.

A token reads `pwt_<id>_<secret>`. Only a SHA-256 of the secret is stored (hash `pw:tokens`,
field = id), so a leaked database does not leak tokens; the text is shown once, at creation.
Roles: `department` (posts progress for the subjects its department owns, reads),
`analyst` (reads), `admin` (publishes plans, manages tokens and subscriptions, reads).

A token is valid for the plans its record lists (`plans`; None: every plan, for admin and analyst
tokens only). A department token always lists its plans; one stored before tokens were bound to
plans has no `plans` yet and is bound by `bind` (services.app.access: to the plans that have its
department), at its first use or by `planwatch token migrate`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from redis.asyncio import Redis

from services.store.keys import Keyspace

log = logging.getLogger("planwatch.tokens")
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
    plans: tuple[str, ...] | None = None  # the plans it is valid for; None: all (admin, analyst)
    bound: bool = True  # False: a record from before tokens were bound to plans, not migrated yet

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def may_use(self, plan_id: str) -> bool:
        """Whether the token is valid for `plan_id`."""
        return self.bound and (self.plans is None or plan_id in self.plans)

    def public(self) -> dict[str, object]:
        shown = asdict(self)
        shown["plans"] = list(self.plans) if self.plans is not None else None
        del shown["bound"]
        return shown


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    """Token records in Redis. `cache_s` > 0 (the API's processes) keeps each record read for that
    long in the process, so a request costs no round trip for its token; a token revoked elsewhere
    is refused within `cache_s` (kept under the one second promised), one revoked here at once."""

    MAX_CACHED = 10_000  # records; past it the cache starts again (a burst of unknown ids cannot grow it)

    def __init__(self, redis: Redis, keys: Keyspace, cache_s: float = 0.0) -> None:
        self.redis, self.keys = redis, keys
        self.cache_s = cache_s
        self._cache: dict[str, tuple[float, tuple[str, TokenInfo] | None]] = {}  # id → (read at, monotonic; record)

    async def _record(self, token_id: str) -> tuple[str, TokenInfo] | None:
        """A token's stored record (its secret's digest and its info), from the cache while it is
        fresh: a request then costs no round trip, nor parsing, for its token."""
        now = time.monotonic()
        cached = self._cache.get(token_id)
        if cached is not None and now - cached[0] < self.cache_s:
            return cached[1]
        raw = await self.redis.hget(self.keys.tokens, token_id)
        record = _parsed(raw) if raw is not None else None
        if self.cache_s > 0:
            if len(self._cache) >= self.MAX_CACHED:
                self._cache.clear()
            self._cache[token_id] = (now, record)  # the time before the read: never fresher than Redis was
        return record

    async def create(
        self, role: Role, department: str | None = None, name: str = "", plans: Sequence[str] | None = None
    ) -> tuple[str, TokenInfo]:
        """A new token; returns its text (shown once) and its record. `plans`: the plans it is valid
        for (None: all plans for admin and analyst tokens; a department token without plans is
        bound at its first use, like one stored by an older version)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if role == "department":
            if not department or not _DEPARTMENT.match(department):
                raise ValueError("a department token needs --department, an id like stats or fgw")
        elif department:
            raise ValueError(f"a {role} token belongs to no department")
        if plans is not None and not plans:
            raise ValueError("a token bound to plans needs at least one plan")
        token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(24)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        bound = plans is not None or role != "department"
        info = TokenInfo(token_id, role, department, name, created, plans=tuple(plans) if plans else None, bound=bound)
        await self._save(info, _digest(secret))
        return f"pwt_{token_id}_{secret}", info

    async def _save(self, info: TokenInfo, digest: str) -> None:
        record: dict[str, object] = {**asdict(info), "hash": digest}
        del record["bound"]
        if info.bound:  # a record without `plans` is one from before tokens were bound to plans
            record["plans"] = list(info.plans) if info.plans is not None else None
        else:
            del record["plans"]
        await self.redis.hset(self.keys.tokens, info.id, json.dumps(record, ensure_ascii=False))
        self._cache.pop(info.id, None)

    async def bind(self, token_id: str, plans: Sequence[str] | None) -> TokenInfo | None:
        """Bind a token stored before tokens were bound to plans to `plans` (None: all). Idempotent:
        a token bound already keeps its plans. Returns the record, or None if there is no token."""
        raw = await self.redis.hget(self.keys.tokens, token_id)
        if raw is None:
            return None
        record = json.loads(raw)
        digest = record.pop("hash")
        info = _info(record)
        if info.bound:
            return info
        info = replace(info, plans=tuple(plans) if plans is not None else None, bound=True)
        await self._save(info, digest)
        return info

    async def verify(self, token: str) -> TokenInfo | None:
        """The token's record if the token is well-formed, known, matches and is not revoked."""
        match = _TOKEN.match(token or "")
        if not match:
            return None
        record = await self._record(match["id"])
        if record is None:
            return None
        digest, info = record
        if not hmac.compare_digest(digest, _digest(match["secret"])):
            return None
        return None if info.revoked else info

    async def info(self, token_id: str) -> TokenInfo | None:
        """The record of a token that is known and not revoked (a dashboard session checks it on
        every request, so revoking the token ends the session)."""
        record = await self._record(token_id)
        if record is None:
            return None
        info = record[1]
        return None if info.revoked else info

    async def list(self) -> list[TokenInfo]:
        found = []
        for token_id, raw in (await self.redis.hgetall(self.keys.tokens)).items():
            record = _parsed(raw)
            if record is None:  # refused when used (verify); listed by nobody
                log.warning("token %s: its record cannot be read, not listed", token_id)
                continue
            found.append(record[1])
        return sorted(found, key=lambda t: t.created_at)

    async def revoke(self, token_id: str) -> bool:
        """Revoke a token (kept, marked revoked, for the record). False if there is no such token."""
        raw = await self.redis.hget(self.keys.tokens, token_id)
        if raw is None:
            return False
        record = json.loads(raw)
        if record.get("revoked_at") is None:
            record["revoked_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            await self.redis.hset(self.keys.tokens, token_id, json.dumps(record, ensure_ascii=False))
        self._cache.pop(token_id, None)
        return True

    @staticmethod
    def id_of(token: str) -> str | None:
        """The id part of a token's text (safe to log)."""
        match = _TOKEN.match(token or "")
        return match["id"] if match else None


def _parsed(raw: bytes | str) -> tuple[str, TokenInfo] | None:
    """A stored record's digest and info; None (no token: refused) for one that cannot be read."""
    try:
        fields = json.loads(raw)
        return str(fields.pop("hash")), _info(fields)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _info(record: dict[str, Any]) -> TokenInfo:
    """A stored record as a TokenInfo; one without `plans` (older) is not bound yet."""
    plans = record.get("plans")
    return TokenInfo(
        id=record["id"],
        role=record["role"],
        department=record.get("department"),
        name=record.get("name", ""),
        created_at=record["created_at"],
        revoked_at=record.get("revoked_at"),
        plans=tuple(str(p) for p in plans) if isinstance(plans, list) else None,
        bound="plans" in record,
    )
