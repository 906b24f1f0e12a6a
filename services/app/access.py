"""API tokens: create (shown once), list, revoke, and bind older tokens to plans — for the API and
the CLI alike.

A token is valid for the plans it names. A department token names one or more, each a plan that
has the department; admin and analyst tokens name some, or none for every plan. Tokens stored
before tokens were bound to plans are bound at their first use (or by `planwatch token migrate`,
which binds them all): a department token to every published plan that has its department — the
plans it could have been used for, since a department could only report on its own subjects —
and admin and analyst tokens to every plan, as before.

The dashboard's sign-ins open a session with a token: the session is the token's, plans included.
"""

from __future__ import annotations

from collections.abc import Sequence

from events.errors import FieldError
from services.app.errors import Invalid, NotFound, Unauthorized
from services.app.payloads import text_problems
from services.store import ROLES, PlanCatalog, Role, Session, SessionStore, TokenInfo, TokenStore


class Access:
    def __init__(self, tokens: TokenStore, sessions: SessionStore, catalog: PlanCatalog) -> None:
        self.tokens, self.sessions, self.catalog = tokens, sessions, catalog

    async def create_token(
        self, role: Role, department: str | None = None, name: str = "", plans: Sequence[str] = ()
    ) -> tuple[str, TokenInfo]:
        """A new token: its text (shown this once; only a hash is kept) and its record. A
        department token needs its plans, each of which must have the department; admin and
        analyst tokens without plans are valid for every plan."""
        if role not in ROLES:
            raise _invalid(
                "role", f"role must be one of {', '.join(ROLES)}, not {role!r}", "角色须为 department、analyst 或 admin"
            )
        if problems := text_problems(name, "name"):
            raise Invalid("the token's name is not valid", "令牌名称有误", problems)
        if role == "department" and not plans:
            raise _invalid("plans", "a department token needs the plans it is for (--plan)", "部门令牌须指定适用的计划")
        await self._check_plans(plans, department if role == "department" else None)
        try:
            return await self.tokens.create(role, department, name, list(dict.fromkeys(plans)) or None)
        except ValueError as exc:
            raise _invalid("department", str(exc), "令牌参数有误") from None

    async def _check_plans(self, plans: Sequence[str], department: str | None) -> None:
        problems = []
        for index, plan_id in enumerate(plans):
            where = f"plans[{index}]"
            plan = await self.catalog.get(plan_id)
            if plan is None:
                problems.append(FieldError(where, f"plan {plan_id!r} has not been published", "计划尚未发布"))
            elif department is not None and department not in {d.id for d in plan.departments}:
                problems.append(
                    FieldError(
                        where, f"plan {plan_id} has no department {department!r}", f"计划中没有部门“{department}”"
                    )
                )
        if problems:
            raise Invalid("the token's plans are not valid", "令牌适用的计划有误", problems)

    async def list_tokens(self) -> list[TokenInfo]:
        """Every token's record (never a secret)."""
        return await self.tokens.list()

    async def revoke_token(self, token_id: str) -> None:
        """Revoke a token: it is refused (401) from now on, and the sessions opened with it end;
        its record stays, marked revoked."""
        if not await self.tokens.revoke(token_id):
            raise NotFound(f"no token {token_id!r}", "令牌不存在")

    async def bind(self, info: TokenInfo) -> TokenInfo:
        """A token stored before tokens were bound to plans, bound (see the module's rule)."""
        if info.bound:
            return info
        plans: list[str] | None = None
        if info.role == "department":
            published = await self.catalog.all()
            plans = [p.id for p in published if info.department in {d.id for d in p.departments}]
        return await self.tokens.bind(info.id, plans) or info

    async def migrate(self) -> list[TokenInfo]:
        """Bind every token stored before tokens were bound to plans; the tokens bound now.
        Idempotent: a second run binds nothing."""
        return [await self.bind(info) for info in await self.tokens.list() if not info.bound]

    async def sign_in(self, token: str) -> tuple[Session, TokenInfo]:
        """Open a session with a token (the dashboard's sign-in): its role and department are the token's."""
        info = await self.tokens.verify(token.strip())
        if info is None:
            raise Unauthorized(
                "the token is not valid, or has been revoked",
                "令牌无效或已被撤销",
                [FieldError("token", "not a valid token", "令牌无效或已被撤销，请向区发展改革委索取")],
            )
        return await self.sessions.create(info.id), await self.bind(info)

    async def signed_in(self, session_id: str | None) -> tuple[Session, TokenInfo] | None:
        """The session and its token's record, while both are valid (a revoked token ends it)."""
        session = await self.sessions.get(session_id or "")
        if session is None:
            return None
        info = await self.tokens.info(session.token_id)
        if info is None:  # the token was revoked: its sessions end
            await self.sessions.delete(session.id)
            return None
        return session, await self.bind(info)

    async def sign_out(self, session_id: str) -> None:
        await self.sessions.delete(session_id)


def _invalid(field: str, reason: str, reason_zh: str) -> Invalid:
    return Invalid(reason, reason_zh, [FieldError(field, reason, reason_zh)])
