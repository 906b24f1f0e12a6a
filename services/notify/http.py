"""Posting a built request to the addresses the network guard approved, and judging what HTTP
says: connection failures, timeouts, redirects and status codes. What a 2xx answer's body means
is the channel's to judge (a robot's JSON error code), so it is passed in.

Callers run `check_target` when a channel is configured, and again before each send, passing the
addresses it approved, which are connected to without resolving the name again (so DNS
rebinding cannot redirect a delivery). A redirect is followed here, a few hops at most, each new
address checked by the same guard first: a receiver cannot send a delivery into our network."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from services.notify.guard import Network, UnresolvedTarget, UnsafeTarget, check_target
from services.notify.masking import mask_url, mask_urls_in

# Redirects followed by posting the same request to the new address (a webhook moved, a robot's
# gateway): 307/308 say so; 301/302 are re-posted too, as a POST turned into a GET carries nothing.
REDIRECTS = frozenset({301, 302, 307, 308})
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class OutgoingRequest:
    """One HTTP request, fully built and signed, ready for `send`."""

    kind: str  # the channel that built it, and judges the answer
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    method: str = "POST"


@dataclass(frozen=True)
class SendResult:
    ok: bool
    status: int | None
    error: str | None
    retry: bool

    @classmethod
    def delivered(cls, status: int | None = None) -> SendResult:
        return cls(ok=True, status=status, error=None, retry=False)

    @classmethod
    def failed(cls, error: str, *, retry: bool, status: int | None = None) -> SendResult:
        # kept in dead letters, logged and listed: a url's key or token in it is masked
        return cls(ok=False, status=status, error=mask_urls_in(error), retry=retry)


Judge = Callable[[httpx.Response], SendResult]  # what a 2xx answer means


async def post(
    client: httpx.AsyncClient,
    request: OutgoingRequest,
    judge: Judge,
    *,
    addresses: Sequence[str] = (),
    allowed: Sequence[Network] = (),
    timeout: float = 10.0,
) -> SendResult:
    """Post `request` and judge the answer (a 2xx one with `judge`). With `addresses` (what
    `check_target` approved) the connection goes to those addresses, the next one if one cannot
    be connected to (an unreachable IPv6 route, say), and the name is not resolved again; the Host
    header and TLS (SNI and certificate) still use the URL's host name. A redirect (301, 302,
    307, 308) is followed up to MAX_REDIRECTS hops, each target checked first by `check_target`
    with the operator's `allowed` networks, and connected to at the addresses it approved."""
    url = httpx.URL(request.url)
    for _ in range(MAX_REDIRECTS + 1):
        result, location = await _post_to(client, request, judge, url, addresses, timeout)
        if location is None:
            return result
        url = url.join(location)
        try:
            addresses = await check_target(str(url), allowed=allowed)
        except UnsafeTarget as exc:
            return SendResult.failed(f"redirected to a refused target: {exc}", retry=isinstance(exc, UnresolvedTarget))
    return SendResult.failed(f"more than {MAX_REDIRECTS} redirects (last to {mask_url(str(url))})", retry=False)


async def _post_to(
    client: httpx.AsyncClient,
    request: OutgoingRequest,
    judge: Judge,
    url: httpx.URL,
    addresses: Sequence[str],
    timeout: float,
) -> tuple[SendResult, str | None]:
    """One hop: the result, and where a redirect points (None if the answer is not a redirect)."""
    if not addresses:
        result, _, location = await _post_once(client, request, judge, url, request.headers, {}, timeout)
        return result, location
    headers = {**request.headers, "Host": url.netloc.decode("ascii")}
    extensions = {"sni_hostname": url.raw_host.decode("ascii")}
    for address in addresses:
        result, connected, location = await _post_once(
            client, request, judge, url.copy_with(host=address), headers, extensions, timeout
        )
        if connected:
            break
    return result, location


async def _post_once(
    client: httpx.AsyncClient,
    request: OutgoingRequest,
    judge: Judge,
    url: httpx.URL,
    headers: dict[str, str],
    extensions: dict[str, str],
    timeout: float,
) -> tuple[SendResult, bool, str | None]:
    """The result, whether a connection was made (else another address may be tried), and the
    address a redirect points to."""
    try:
        response = await client.request(
            request.method,
            url,
            headers=headers,
            content=request.body,
            timeout=timeout,
            follow_redirects=False,  # followed by `post`, through the guard
            extensions=extensions,
        )
    except httpx.UnsupportedProtocol as error:
        return SendResult.failed(f"unsupported URL: {error}", retry=False), True, None
    except (httpx.ConnectError, httpx.ConnectTimeout) as error:
        return SendResult.failed(_described(error), retry=True), False, None
    except httpx.TransportError as error:  # reset, read timeout: may work later
        return SendResult.failed(_described(error), retry=True), True, None
    except (httpx.RequestError, httpx.InvalidURL) as error:
        return SendResult.failed(_described(error), retry=False), True, None
    status = response.status_code
    location = response.headers.get("location")
    if status in REDIRECTS and location:
        return SendResult.failed(f"HTTP {status} to {mask_url(location)}", retry=False, status=status), True, location
    if not 200 <= status < 300:
        retry = status == 429 or status >= 500
        return SendResult.failed(f"HTTP {status}: {response.text[:200]}", retry=retry, status=status), True, None
    return judge(response), True, None


def _described(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"
