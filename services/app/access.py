"""API tokens: create (shown once), list, revoke — for the API and the CLI alike."""

from __future__ import annotations

from events.errors import FieldError
from services.app.errors import Invalid, NotFound
from services.store import Role, TokenInfo, TokenStore


class Access:
    def __init__(self, tokens: TokenStore) -> None:
        self.tokens = tokens

    async def create_token(self, role: Role, department: str | None = None, name: str = "") -> tuple[str, TokenInfo]:
        """A new token: its text (shown this once; only a hash is kept) and its record."""
        try:
            return await self.tokens.create(role, department, name)
        except ValueError as exc:
            raise Invalid(str(exc), "令牌参数有误", [FieldError("department", str(exc), "令牌参数有误")]) from None

    async def list_tokens(self) -> list[TokenInfo]:
        """Every token's record (never a secret)."""
        return await self.tokens.list()

    async def revoke_token(self, token_id: str) -> None:
        """Revoke a token: it is refused (401) from now on; its record stays, marked revoked."""
        if not await self.tokens.revoke(token_id):
            raise NotFound(f"no token {token_id!r}", "令牌不存在")
