"""Settings: everything planwatch reads from the environment, read in one place.

| variable | meaning | default |
|---|---|---|
| `PLANWATCH_REDIS_URL` | `redis://`, `rediss://`, `unix://`; Cluster: `redis+cluster://host:port` | embedded |
| `PLANWATCH_HOME` | directory of the embedded server | `.planwatch/` |
| `PLANWATCH_KEY_PREFIX` | first part of every key, to share a server | `pw` |
| `PLANWATCH_READY_MAX_LAG` | `/readyz` is not ready while a projection lags more events than this | 1000 |
| `PLANWATCH_ALLOW_PRIVATE_TARGETS` | private networks alert channels may post to (CIDRs) | none |
| `PLANWATCH_LOG_FORMAT` | `json` (one object per line) or `console` | console on a terminal, else json |
| `PLANWATCH_TIME_ZONE` | the zone times are printed in when they belong to no plan (tokens, status) | Asia/Shanghai |
| `PLANWATCH_PUBLIC_URL` | the address people open planwatch at (links in robot messages) | – (no links) |
| `PLANWATCH_SECRET_KEY` | signs shared links and sign-in forms; seals subscription secrets at rest | see below |
| `PLANWATCH_SESSION_HOURS` | how long a dashboard sign-in lasts without use | 12 |
| `PLANWATCH_SNAPSHOT_EVERY` | a snapshot every N log entries (and each month's end): a query folds at most N | 2500 |
| `PLANWATCH_STATE_SAVE_S` | seconds between state writes of a quiet projection (0: each time) | 300 |

Without `PLANWATCH_SECRET_KEY` links are signed with a key generated once and kept in Redis, and
subscription urls and secrets are stored in clear. Link-local and metadata addresses are refused
inside allowed networks too; docs/security.md says what the secret key protects and what it does not.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.store import CLUSTER_SCHEMES, EmbeddedRedis, Keyspace

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Settings:
    redis_url: str | None = None  # None: the embedded server under `home`
    key_prefix: str = "pw"
    home: Path = Path(".planwatch")
    ready_max_lag: int = 1000
    allow_private_targets: tuple[Network, ...] = ()
    log_format: str | None = None  # json | console; None: console on a terminal, json otherwise
    access_log: bool = True  # the API's line per request (PLANWATCH_ACCESS_LOG=off: none)
    time_zone: str = "Asia/Shanghai"
    public_url: str | None = None  # e.g. https://planwatch.example.gov.cn; None: messages carry no link
    # signing: None means a key generated once and kept in Redis (services.store.signing); sealing
    # secrets at rest: only this one, never the one in Redis. Never printed with the settings.
    secret_key: str | None = field(default=None, repr=False)
    session_hours: float = 12.0
    snapshot_every: int = 2500
    state_save_s: float = 30.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """The settings the environment gives; SettingsError naming the variable and what it takes."""
        return cls(
            redis_url=_redis_url(environ.get("PLANWATCH_REDIS_URL") or None),
            key_prefix=_key_prefix(environ.get("PLANWATCH_KEY_PREFIX", "pw")),
            home=Path(environ.get("PLANWATCH_HOME") or ".planwatch"),
            ready_max_lag=_whole(environ, "PLANWATCH_READY_MAX_LAG", 1000, least=0),
            allow_private_targets=parse_networks(environ.get("PLANWATCH_ALLOW_PRIVATE_TARGETS", "")),
            log_format=_choice(environ, "PLANWATCH_LOG_FORMAT", ("json", "console")),
            access_log=_choice(environ, "PLANWATCH_ACCESS_LOG", ("on", "off")) != "off",
            time_zone=_zone(environ.get("PLANWATCH_TIME_ZONE") or "Asia/Shanghai"),
            public_url=public_url(environ.get("PLANWATCH_PUBLIC_URL") or "", "PLANWATCH_PUBLIC_URL"),
            secret_key=environ.get("PLANWATCH_SECRET_KEY") or None,
            session_hours=_number(environ, "PLANWATCH_SESSION_HOURS", 12.0, "hours, more than 0", above=0),
            snapshot_every=_whole(environ, "PLANWATCH_SNAPSHOT_EVERY", 2500, least=1),
            state_save_s=_number(environ, "PLANWATCH_STATE_SAVE_S", 300.0, "seconds, 0 or more"),
        )

    @property
    def keys(self) -> Keyspace:
        return Keyspace(self.key_prefix)

    def redis_target(self) -> str:
        """The Redis URL to connect to: the configured one, or the embedded server (started if needed)."""
        return self.redis_url or EmbeddedRedis(self.home).ensure_running()


class SettingsError(ValueError):
    """A variable of the environment planwatch cannot use: the message names it and what it takes."""


def parse_networks(text: str) -> tuple[Network, ...]:
    """The networks of `PLANWATCH_ALLOW_PRIVATE_TARGETS`: CIDRs separated by commas or spaces
    (`10.20.0.0/16, 192.168.8.0/24`). Link-local and metadata addresses stay refused inside them."""
    networks = []
    for part in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise SettingsError(
                f"PLANWATCH_ALLOW_PRIVATE_TARGETS: {part!r} is not a network like 10.20.0.0/16 ({exc})"
            ) from None
    return tuple(networks)


def _choice(environ: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = (environ.get(name) or "").strip().lower()
    if value and value not in allowed:
        raise SettingsError(f"{name}={value!r}: must be one of {', '.join(allowed)}")
    return value or None


def _whole(environ: Mapping[str, str], name: str, default: int, least: int) -> int:
    text = (environ.get(name) or "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or int(text) < least:
        raise SettingsError(f"{name}={text!r}: must be a whole number of at least {least}")
    return int(text)


def _number(environ: Mapping[str, str], name: str, default: float, unit: str, above: float | None = None) -> float:
    """A finite number of `unit`, 0 or more (more than `above`, if given)."""
    text = (environ.get(name) or "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf") or (above is not None and value <= above):
        raise SettingsError(f"{name}={text!r}: must be a number of {unit}")
    return value


def _redis_url(url: str | None) -> str | None:
    schemes = ("redis://", "rediss://", "unix://", *CLUSTER_SCHEMES)
    if url is not None and not url.startswith(schemes):
        raise SettingsError(f"PLANWATCH_REDIS_URL={url!r}: must begin with one of {', '.join(schemes)}")
    return url


def _key_prefix(prefix: str) -> str:
    try:
        Keyspace(prefix)
    except ValueError as exc:
        raise SettingsError(f"PLANWATCH_KEY_PREFIX={prefix!r}: {exc}") from None
    return prefix


def public_url(url: str, source: str) -> str | None:
    """The address people open planwatch at (from `source`, a variable or an option): http(s) only,
    with a host, as it goes into links people click."""
    address = url.strip().rstrip("/")
    if address and not _web_address(address):
        raise SettingsError(f"{source}={url!r}: must be an http:// or https:// address")
    return address or None


def _web_address(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 — raises on a port that is not one
    except ValueError:
        return False
    plain = url.isprintable() and not any(character.isspace() for character in url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and plain


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"PLANWATCH_TIME_ZONE={name!r} is not a time zone like Asia/Shanghai") from None
    return name
