"""Who may come in: API tokens (create, shown once; list; revoke) and the dashboard's sign-ins,
which open a session with a token — for the API, the CLI and the dashboard alike."""

from __future__ import annotations

from events.errors import FieldError
from services.app.errors import Invalid, NotFound, Unauthorized
from services.store import Role, Session, SessionStore, TokenInfo, TokenStore


class Access:
    def __init__(self, tokens: TokenStore, sessions: SessionStore) -> None:
        self.tokens, self.sessions = tokens, sessions

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
        """Revoke a token: it is refused (401) from now on, and the sessions opened with it end;
        its record stays, marked revoked."""
        if not await self.tokens.revoke(token_id):
            raise NotFound(f"no token {token_id!r}", "令牌不存在")

    async def sign_in(self, token: str) -> tuple[Session, TokenInfo]:
        """Open a session with a token (the dashboard's sign-in): its role and department are the token's."""
        info = await self.tokens.verify(token.strip())
        if info is None:
            raise Unauthorized(
                "the token is not valid, or has been revoked",
                "令牌无效或已被撤销",
                [FieldError("token", "not a valid token", "令牌无效或已被撤销，请向区发展改革委索取")],
            )
        return await self.sessions.create(info.id), info

    async def signed_in(self, session_id: str | None) -> tuple[Session, TokenInfo] | None:
        """The session and its token's record, while both are valid (a revoked token ends it)."""
        session = await self.sessions.get(session_id or "")
        if session is None:
            return None
        info = await self.tokens.info(session.token_id)
        if info is None:  # the token was revoked: its sessions end
            await self.sessions.delete(session.id)
            return None
        return session, info

    async def sign_out(self, session_id: str) -> None:
        await self.sessions.delete(session_id)
