"""Invitations: an admin names the account, its role and regions; the invitee follows a
one-time link within 48 hours and chooses the password.

Redis keeps only the SHA-256 of the link's token (`console:invite:<hash>`).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass

from redis.asyncio import Redis

from bot.console.audit import AuditLog
from bot.console.auth import Account, AccountError, AccountStore, Role, check_password

__all__ = ["Invite", "InviteStore"]

INVITE_SECONDS = 48 * 3600
EXPIRED = "Tautan undangan ini tidak berlaku lagi. Minta undangan baru ke admin."


@dataclass(frozen=True)
class Invite:
    username: str
    role: Role
    regions: tuple[str, ...]
    invited_by: str


class InviteStore:
    def __init__(self, redis: Redis, prefix: str, accounts: AccountStore, audit: AuditLog) -> None:
        self._redis = redis
        self._prefix = prefix
        self._accounts = accounts
        self._audit = audit

    def _key(self, token: str) -> str:
        return f"{self._prefix}console:invite:{hashlib.sha256(token.encode()).hexdigest()}"

    async def create(self, actor: str, invite: Invite) -> str:
        """The token of a new invitation (shown once, in the link)."""
        if await self._accounts.get(invite.username) is not None:
            raise AccountError("Nama pengguna itu sudah dipakai.")
        token = secrets.token_urlsafe(32)
        value = _dump(invite)
        await self._redis.set(self._key(token), json.dumps(value), ex=INVITE_SECONDS)
        await self._audit.record(actor, "undangan.dibuat", invite.username, None, value)
        return token

    async def get(self, token: str) -> Invite | None:
        if not token or len(token) > 128:
            return None
        raw = await self._redis.get(self._key(token))
        if raw is None:
            return None
        value = json.loads(raw)
        return Invite(
            value["username"], Role(value["role"]), tuple(value["regions"]), value["invited_by"]
        )

    async def accept(self, token: str, password: str) -> Account:
        """Create the account. The password is checked first; then the link is used up."""
        if (problem := check_password(password)) is not None:
            raise AccountError(problem)
        invite = await self.get(token)
        if invite is None or not await self._redis.delete(self._key(token)):
            raise AccountError(EXPIRED)
        return await self._accounts.create(
            invite.username, invite.username, invite.role, invite.regions, password
        )


def _dump(invite: Invite) -> dict[str, object]:
    return {
        "username": invite.username,
        "role": invite.role.value,
        "regions": list(invite.regions),
        "invited_by": invite.invited_by,
    }
