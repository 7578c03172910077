"""Console sessions in Redis, their cookie, and the CSRF token of each session.

The cookie `ks_console` carries a random 32-byte token; Redis keeps only its SHA-256
(`console:session:<hash>`), so a copy of the database opens no session. A session
ends after 8 idle hours, 7 days after login however busy, at logout, or when its
account's password is reset or the account is disabled (`console:sessions-of:<name>`
lists an account's sessions).

Before login (the login and invitation forms) the CSRF token lives in a second
cookie, `ks_console_pre`, and the form must send the same value back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from aiohttp import web
from redis.asyncio import Redis

from actions.store import as_text
from bot.settings import Settings

__all__ = [
    "COOKIE_NAME",
    "PRE_COOKIE_NAME",
    "Session",
    "SessionStore",
    "clear_cookie",
    "same_token",
    "set_cookie",
]

COOKIE_NAME = "ks_console"
PRE_COOKIE_NAME = "ks_console_pre"
COOKIE_PATH = "/console"
IDLE_SECONDS = 8 * 3600
MAX_AGE_SECONDS = 7 * 24 * 3600  # the absolute end of a session, active or not


@dataclass(frozen=True)
class Session:
    token: str
    username: str
    csrf: str


class SessionStore:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self, token: str) -> str:
        digest = hashlib.sha256(token.encode()).hexdigest()
        return f"{self._prefix}console:session:{digest}"

    def _of(self, username: str) -> str:
        return f"{self._prefix}console:sessions-of:{username}"

    async def start(self, username: str, now: float | None = None) -> Session:
        """A new session (a new token at every login: no fixation)."""
        session = Session(secrets.token_urlsafe(32), username, secrets.token_urlsafe(32))
        key = self._key(session.token)
        created = str(int(time.time() if now is None else now))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"user": username, "csrf": session.csrf, "created": created})
            pipe.expire(key, IDLE_SECONDS)
            pipe.sadd(self._of(username), key)
            pipe.expire(self._of(username), IDLE_SECONDS)
            await pipe.execute()
        return session

    async def resume(self, token: str | None, now: float | None = None) -> Session | None:
        """The session of a cookie, its idle time restarted; None when unknown, idle too
        long, or older than MAX_AGE_SECONDS (then it is ended)."""
        if not token or len(token) > 128:
            return None
        key = self._key(token)
        now = time.time() if now is None else now
        user, csrf, created = await self._redis.hmget(key, ["user", "csrf", "created"])
        if user is None or csrf is None:
            return None
        username = as_text(user)
        started = as_text(created) if created is not None else ""
        valid = started.isascii() and started.isdigit() and len(started) <= 12
        left = int(started) + MAX_AGE_SECONDS - now if valid else 0
        if left <= 0:  # past its absolute end (or from before sessions had one)
            await self.end(Session(token, username, as_text(csrf)))
            return None
        await self._redis.expire(key, min(IDLE_SECONDS, max(1, int(left))), xx=True)
        await self._redis.expire(self._of(username), IDLE_SECONDS)
        return Session(token, username, as_text(csrf))

    async def end(self, session: Session) -> None:
        key = self._key(session.token)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.srem(self._of(session.username), key)
            await pipe.execute()

    async def end_all(self, username: str) -> None:
        """Sign an account out everywhere."""
        keys = [k async for k in self._redis.sscan_iter(self._of(username))]
        await self._redis.delete(self._of(username), *keys)


def same_token(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison of a submitted token with the expected one."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def _secure(settings: Settings, request: web.BaseRequest | None) -> bool:
    """Secure in production, behind an https public URL, or whenever this request came
    over HTTPS (directly, or as a trusted proxy says in X-Forwarded-Proto)."""
    if settings.environment == "production" or (
        settings.public_url is not None and settings.public_url.scheme == "https"
    ):
        return True
    if request is None:
        return False
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[-1].strip().lower()
    return request.secure or (settings.trust_proxy and forwarded == "https")


def set_cookie(
    response: web.StreamResponse,
    name: str,
    value: str,
    settings: Settings,
    max_age: int | None,
    request: web.BaseRequest | None = None,
) -> None:
    """A console cookie; `max_age=None` lasts until the browser closes (Redis ends the
    session after 8 idle hours anyway). Pass the request so an HTTPS request gets a
    Secure cookie whatever the settings."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        secure=_secure(settings, request),
        samesite="Strict",
    )


def clear_cookie(response: web.StreamResponse, name: str) -> None:
    response.del_cookie(name, path=COOKIE_PATH)
