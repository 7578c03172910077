"""The console's services, made once per app when Redis is open."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from redis.asyncio import Redis

from actions.content import ContentStore
from bot.console.audit import AuditLog
from bot.console.auth import AccountStore
from bot.console.content import ContentWorkflow
from bot.console.invites import InviteStore
from bot.console.sessions import SessionStore

__all__ = ["CONSOLE", "Console"]


@dataclass(frozen=True)
class Console:
    redis: Redis
    prefix: str
    audit: AuditLog
    accounts: AccountStore
    sessions: SessionStore
    invites: InviteStore
    store: ContentStore
    content: ContentWorkflow

    @classmethod
    def open(cls, redis: Redis, prefix: str) -> Console:
        audit = AuditLog(redis, prefix)
        accounts = AccountStore(redis, prefix, audit)
        store = ContentStore(redis, prefix)
        return cls(
            redis=redis,
            prefix=prefix,
            audit=audit,
            accounts=accounts,
            sessions=SessionStore(redis, prefix),
            invites=InviteStore(redis, prefix, accounts, audit),
            store=store,
            content=ContentWorkflow(redis, prefix, store, audit),
        )


CONSOLE = web.AppKey("console", Console)
