"""The network guard (SSRF): a notification target must be an http(s) URL whose host is, and
resolves only to, public addresses — or addresses inside the networks the operator allows
(`PLANWATCH_ALLOW_PRIVATE_TARGETS`, for intranet deployments; never a request's choice).
Link-local and cloud metadata addresses are refused always. `check_target` returns the addresses
it approved, so the send connects to exactly those and a name that resolves elsewhere a moment
later (DNS rebinding) cannot redirect it."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from services.notify.masking import mask_url

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Never a target, whatever the operator allows: the instance metadata services (credentials!) of
# the clouds a government deployment may run on — most are link-local, refused as such too.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, Huawei, OpenStack
        "169.254.170.2",  # AWS ECS task credentials
        "169.254.0.23",  # Tencent Cloud
        "100.100.100.200",  # Alibaba Cloud (in 100.64.0.0/10)
        "fd00:ec2::254",  # AWS over IPv6
    )
)
NEVER = ("link-local", "unspecified", "multicast")  # classes no allowance admits


class UnsafeTarget(ValueError):
    """A channel URL we refuse to post to (not http(s), unresolvable, or an internal address)."""


class UnresolvedTarget(UnsafeTarget):
    """The URL's host name did not resolve: refused when a channel is configured, but at send
    time most likely a passing DNS failure, worth retrying."""


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_REASON_ZH = {
    "unspecified": "未指定地址",
    "loopback": "回环地址",
    "link-local": "链路本地地址",
    "multicast": "组播地址",
    "private": "内网地址",
    "reserved": "保留地址",
    "non-public": "非公网地址",
    "metadata": "云平台元数据地址",
}


async def check_target(url: str, *, allowed: Sequence[Network] = ()) -> list[str]:
    """Refuse URLs that would make us post into our own network (SSRF): anything not http(s), and
    any host that is or resolves to a loopback, private, link-local, multicast, reserved or
    unspecified address. Every resolved address must be public (a resolver may rotate them) or
    inside a network of `allowed` (the operator's, for intranet deployments) — and never a
    link-local, multicast, unspecified or metadata address. Names must resolve. DNS is asked on
    the event loop's resolver, without blocking it. Returns the addresses approved, in the
    resolver's order: give them to `send`, so the name is not resolved a second time, perhaps to
    somewhere else."""
    host, port = _split_target(url)
    literal = _literal_ip(host)
    if literal is not None:
        _check_addresses(url, host, [str(literal)], allowed)
        return [str(literal)]
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise _cannot_resolve(url, host, error) from None
    addresses = [str(info[4][0]).split("%", 1)[0] for info in infos]  # an IPv6 zone id cannot be pinned
    _check_addresses(url, host, addresses, allowed)
    if not addresses:
        raise _cannot_resolve(url, host, OSError("no address"))
    return list(dict.fromkeys(addresses))  # one per address, not per socket type


def address_class(address: Address) -> str | None:
    """Why this address is not a public one ("loopback", "private", …), or None if it is."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv6 form can carry an IPv4 address; judge the IPv4 address it reaches.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_class(embedded)
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("non-public", not address.is_global),  # e.g. 100.64.0.0/10 carrier-grade NAT
    )
    return next((name for name, hit in checks if hit), None)


def _refuse(url: str, reason: str, reason_zh: str, kind: type[UnsafeTarget] = UnsafeTarget) -> UnsafeTarget:
    # the url by its host and a masked tail: a robot's key is in its url, and refusals are logged
    return kind(f"refusing notification target {mask_url(url)!r}: {reason}（拒绝推送地址：{reason_zh}）")


def _split_target(url: str) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise _refuse(url, f"malformed URL ({error})", "地址格式错误") from None
    if parts.scheme not in ("http", "https"):
        raise _refuse(url, "only http and https URLs are allowed", "仅允许 http 或 https 地址")
    if not parts.hostname:
        raise _refuse(url, "the URL has no host", "地址缺少主机名")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _literal_ip(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _check_addresses(url: str, host: str, addresses: list[str], allowed: Sequence[Network]) -> None:
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
        problem = address_class(address)
        if address in METADATA and problem not in NEVER:
            problem = "metadata"  # e.g. Alibaba Cloud's, in the carrier-grade NAT range
        elif problem and problem not in NEVER and any(address in network for network in allowed):
            continue  # the operator allows this network (PLANWATCH_ALLOW_PRIVATE_TARGETS)
        if problem:
            raise _refuse(
                url,
                f"{host} is {address}, a {problem} address",
                f"{host} 指向{_REASON_ZH[problem]} {address}",
            )


def _cannot_resolve(url: str, host: str, error: Exception) -> UnsafeTarget:
    return _refuse(url, f"cannot resolve host {host} ({error})", f"无法解析主机名 {host}", UnresolvedTarget)
