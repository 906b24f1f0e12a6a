"""Secrets in what planwatch shows or logs: a url that carries a robot's key or access token is
shown by its scheme, host and a masked tail — enough to tell subscriptions apart, nothing to post
with."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_SECRET_PARAMETER = re.compile(r"(?i)\b(key|access_token|token|secret|sign|signature)=([^&#\s'\"]+)")
_HOOK_ID = re.compile(r"(/hook/)([^/?#\s'\"]+)")  # Feishu: the hook id in the path is the secret


def masked(secret: str) -> str:
    """`…` and the last 4 characters (none of a short one)."""
    return "…" + secret[-4:] if len(secret) >= 12 else "…"


def mask_url(url: str) -> str:
    """`https://qyapi.weixin.qq.com/…?key=…a1b2`: scheme and host, the path and query dropped but
    for the masked tail of the secret they carry (a robot's key, access token or hook id)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(invalid url)"
    tails = [f"{name}={masked(value)}" for name, value in _SECRET_PARAMETER.findall(parts.query)]
    tails += [f"hook/{masked(value)}" for _, value in _HOOK_ID.findall(parts.path)]
    shown = f"{parts.scheme}://{host}{port}/…"
    return shown + ("?" + "&".join(tails) if tails else "")


def mask_urls_in(text: str) -> str:
    """`text` (an error, a log line) with the secrets of any url in it masked."""
    text = _SECRET_PARAMETER.sub(lambda m: f"{m[1]}={masked(m[2])}", text)
    return _HOOK_ID.sub(lambda m: f"{m[1]}{masked(m[2])}", text)
