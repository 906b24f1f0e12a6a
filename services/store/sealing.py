"""Secrets at rest: what planwatch must keep to post to a subscriber (a robot's url, which carries
its key or access token, and a signing secret) is sealed with `PLANWATCH_SECRET_KEY` when one is
set (the same setting signs links, under another derivation) — Fernet (AES-128-CBC with
HMAC-SHA256, from the `cryptography` package), so a copy of the
Redis data (an RDB or AOF file, a backup) does not hand them out. Without a key they are stored
as given, as before; a sealed value read without the right key is refused, never guessed.
docs/security.md says what this protects and what it does not."""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when a key is set: a process without one does not load it
    from cryptography.fernet import Fernet

SEALED = "enc:v1:"  # the prefix of a sealed value: a value without it was stored in clear


class CannotUnseal(ValueError):
    """A sealed value and no key, or another key than the one it was sealed with."""


class Sealer:
    def __init__(self, key: str | None) -> None:
        self._fernet: Fernet | None = None
        if key:  # any text works as the key: a Fernet key (32 bytes) is derived from it
            from cryptography.fernet import Fernet

            # its own derivation: the same setting's text also signs links (services.store.signing)
            derived = hashlib.sha256(b"planwatch sealing\x00" + key.encode()).digest()
            self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    @property
    def active(self) -> bool:
        return self._fernet is not None

    def seal(self, value: str) -> str:
        """`value` sealed (as is without a key)."""
        if self._fernet is None:
            return value
        return SEALED + self._fernet.encrypt(value.encode()).decode("ascii")

    def unseal(self, value: str) -> str:
        """A value as `seal` stored it, opened; a value stored in clear is returned as it is."""
        if not value.startswith(SEALED):
            return value
        if self._fernet is None:
            raise CannotUnseal("a sealed value needs PLANWATCH_SECRET_KEY, which is not set")
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(value.removeprefix(SEALED).encode("ascii")).decode()
        except InvalidToken:
            raise CannotUnseal("a sealed value does not open with this PLANWATCH_SECRET_KEY") from None
