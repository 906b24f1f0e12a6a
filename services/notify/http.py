"""Posting a built request to the addresses the network guard approved, and judging what HTTP
says: connection failures, timeouts and status codes. What a 2xx answer's body means is the
channel's to judge (a robot's JSON error code), so it is passed in.

Nothing here checks the target: callers run `check_target` when a channel is configured, and
again before each send, passing the addresses it approved, which are connected to without
resolving the name again (so DNS rebinding cannot redirect a delivery)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from services.notify.masking import mask_urls_in


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
    timeout: float = 10.0,
) -> SendResult:
    """Post `request` and judge the answer (a 2xx one with `judge`). Redirects are not followed:
    a redirect could point anywhere, including addresses `check_target` refused. With
    `addresses` (what `check_target` approved) the connection goes to those addresses, the next
    one if one cannot be connected to (an unreachable IPv6 route, say), and the name is not
    resolved again; the Host header and TLS (SNI and certificate) still use the URL's host name."""
    url = httpx.URL(request.url)
    if not addresses:
        result, _ = await _post_once(client, request, judge, url, request.headers, {}, timeout)
        return result
    headers = {**request.headers, "Host": url.netloc.decode("ascii")}
    extensions = {"sni_hostname": url.raw_host.decode("ascii")}
    for address in addresses:
        result, connected = await _post_once(
            client, request, judge, url.copy_with(host=address), headers, extensions, timeout
        )
        if connected:
            break
    return result


async def _post_once(
    client: httpx.AsyncClient,
    request: OutgoingRequest,
    judge: Judge,
    url: httpx.URL,
    headers: dict[str, str],
    extensions: dict[str, str],
    timeout: float,
) -> tuple[SendResult, bool]:
    """The result, and whether a connection was made (else another address may be tried)."""
    try:
        response = await client.request(
            request.method,
            url,
            headers=headers,
            content=request.body,
            timeout=timeout,
            follow_redirects=False,
            extensions=extensions,
        )
    except httpx.UnsupportedProtocol as error:
        return SendResult.failed(f"unsupported URL: {error}", retry=False), True
    except (httpx.ConnectError, httpx.ConnectTimeout) as error:
        return SendResult.failed(_described(error), retry=True), False
    except httpx.TransportError as error:  # reset, read timeout: may work later
        return SendResult.failed(_described(error), retry=True), True
    except (httpx.RequestError, httpx.InvalidURL) as error:
        return SendResult.failed(_described(error), retry=False), True
    status = response.status_code
    if not 200 <= status < 300:
        retry = status == 429 or status >= 500
        return SendResult.failed(f"HTTP {status}: {response.text[:200]}", retry=retry, status=status), True
    return judge(response), True


def _described(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"
