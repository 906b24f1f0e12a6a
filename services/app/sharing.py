"""Shared links: one version of one month's rollup, read-only, for whoever has the link, until it
expires — what robot messages and rollup notices point at, so a phone opens them without a token."""

from __future__ import annotations

from redis.asyncio import Redis

from services.app.errors import Forbidden
from services.app.rollups import RenderedRollup, Rollups
from services.settings import Settings
from services.store import Keyspace, SignedLinks, shared_rollup_path


class Sharing:
    def __init__(self, redis: Redis, keys: Keyspace, settings: Settings, rollups: Rollups) -> None:
        self.redis, self.keys, self.settings, self.rollups = redis, keys, settings, rollups
        self._links: SignedLinks | None = None

    async def links(self) -> SignedLinks:
        """The signer, on the installation's key (loaded once per process)."""
        if self._links is None:
            self._links = await SignedLinks.load(
                self.redis, self.keys, self.settings.public_url, self.settings.secret_key
            )
        return self._links

    async def rollup_path(self, plan_id: str, period: str, version: int, fmt: str = "html") -> str:
        """The signed address (path and query) of one version of a month's rollup."""
        return (await self.links()).sign(shared_rollup_path(plan_id, period, fmt), version)

    async def open_rollup(self, plan_id: str, name: str, version: int, expires: int, signature: str) -> RenderedRollup:
        """The rollup a signed link names, if the signature is right and has not expired."""
        links = await self.links()
        period, _, fmt = name.partition(".")
        if not links.valid(shared_rollup_path(plan_id, period, fmt), version, expires, signature):
            raise Forbidden(
                "this link is not valid, or has expired",
                "链接无效或已过期，请在计划执行监测平台中查看",
            )
        return await self.rollups.rendered(plan_id, name, version)
