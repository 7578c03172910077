"""Who may talk to the chat API, as whom, and how fast.

- **Integrators** send `Authorization: Bearer <key>` with a key listed in
  KS_API_KEYS. They choose `user_id` (the documented contract) and are not held
  to the per-IP limit.
- **Everyone else** (the web chat page) gets a server-issued session cookie:
  a random id signed with HMAC (KS_SECRET_KEY), HttpOnly, SameSite=Strict,
  Secure over HTTPS. The conversation is bound to that id; a `user_id` in the
  body is ignored, so nobody can read or write another user's conversation by
  guessing an id. Per-IP and per-session limits answer 429 with Retry-After.
- Limits are counted in Redis (fixed one-minute windows, shared by every
  gateway instance) under keyed pseudonyms, never raw addresses.
- Security headers on every response (CSP, frame-ancestors, nosniff,
  Referrer-Policy).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from actions.pseudonym import pseudonym

__all__ = [
    "COOKIE_NAME",
    "Caller",
    "RateLimited",
    "SessionSigner",
    "api_key_valid",
    "client_ip",
    "over_limit",
    "security_headers",
]

logger = logging.getLogger(__name__)

COOKIE_NAME = "ks_session"
SESSION_MAX_AGE = 30 * 24 * 3600  # a returning visitor keeps the conversation for a month
WINDOW_SECONDS = 60

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self';"
    " frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Caller:
    """Who is asking: an integrator with a key, or a web session."""

    user_id: str
    integrator: bool
    new_session: str | None = None  # a cookie value to set on the response


class SessionSigner:
    """`<id>.<signature>` cookie values; the id is random, the signature proves we issued it."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _signature(self, session_id: str) -> str:
        mac = hmac.new(self._secret, f"web-session\x00{session_id}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:18]).decode().rstrip("=")

    def issue(self) -> str:
        session_id = secrets.token_urlsafe(18)
        return f"{session_id}.{self._signature(session_id)}"

    def verify(self, value: str | None) -> str | None:
        """The session id of a cookie we issued, else None."""
        if not value or value.count(".") != 1:
            return None
        session_id, signature = value.split(".")
        if not session_id or not hmac.compare_digest(signature, self._signature(session_id)):
            return None
        return session_id


def api_key_valid(request: web.Request, keys: frozenset[str]) -> bool:
    given = request.headers.get("Authorization", "")
    if not keys or not given.startswith("Bearer "):
        return False
    token = given[len("Bearer ") :].strip().encode()
    # Compare with every key (constant time each), so timing tells nothing.
    return any([hmac.compare_digest(token, key.encode()) for key in keys])


def client_ip(request: web.Request, trust_forwarded: bool) -> str:
    """The caller's address; behind a proxy, the one it appended to X-Forwarded-For."""
    if trust_forwarded:
        forwarded = request.headers.get("X-Forwarded-For", "")
        last = forwarded.split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(last))
        except ValueError:
            pass
    return request.remote or "unknown"


async def over_limit(
    redis: Redis, prefix: str, scope: str, subject: str, per_minute: int
) -> int | None:
    """Count one request; seconds until the window ends when over `per_minute`, else None."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    key = f"{prefix}rl:{scope}:{pseudonym(subject, 'rate-limit', 24)}:{window}"
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS * 2)
            count, _ = await pipe.execute()
    except RedisError:
        return None  # never refuse a user because the limiter is down
    if int(count) <= per_minute:
        return None
    return max(1, int((window + 1) * WINDOW_SECONDS - now) + 1)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as error:
        error.headers.update(SECURITY_HEADERS)
        raise
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
