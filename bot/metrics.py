"""Prometheus metrics of the gateway and its inbox workers (`GET /metrics`).

Counts and timings only: no message text, no chat id, no phone number is ever
a label. Metrics are module-level, as prometheus_client intends (one registry
per process). Gauges that live in Redis (inbox backlog and lag, dead letters)
are read when Prometheus scrapes.

`/metrics` answers requests with `Authorization: Bearer <KS_METRICS_TOKEN>`,
or, when no token is configured, only requests from the same machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from redis.exceptions import RedisError

__all__ = [
    "DEAD_LETTERED",
    "MESSAGES_IN",
    "MESSAGES_OUT",
    "RASA_ERRORS",
    "RASA_SECONDS",
    "RATE_LIMITED",
    "RATE_LIMIT_WAIT",
    "REPLY_SECONDS",
    "metrics",
]

LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 120.0)

MESSAGES_IN = Counter("ks_messages_in_total", "User messages accepted, per channel", ["channel"])
MESSAGES_OUT = Counter(
    "ks_messages_out_total",
    "Replies, per channel and outcome (sent, dead_letter, unreachable)",
    ["channel", "outcome"],
)
REPLY_SECONDS = Histogram(
    "ks_reply_seconds",
    "From the user's message (platform time, or arrival for the web) to our reply sent",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)
RASA_SECONDS = Histogram(
    "ks_rasa_request_seconds",
    "One turn at Rasa, waiting for a slot included",
    buckets=LATENCY_BUCKETS,
)
RASA_ERRORS = Counter("ks_rasa_errors_total", "Turns Rasa did not answer, per reason", ["reason"])
RATE_LIMITED = Counter(
    "ks_rate_limited_total",
    "Requests refused or held by our own limits (web ip/session 429, per-user flood)",
    ["scope"],
)
RATE_LIMIT_WAIT = Counter(
    "ks_rate_limit_wait_seconds_total",
    "Seconds spent waiting for a platform (429, retry_after, throughput errors)",
    ["channel"],
)
DEAD_LETTERED = Counter(
    "ks_dead_lettered_total", "Entries and replies moved to the dead-letter stream", ["kind"]
)
INBOX_BACKLOG = Gauge("ks_inbox_backlog", "Accepted messages not yet answered (scrape time)")
INBOX_LAG = Gauge(
    "ks_inbox_lag_seconds", "Age of the oldest accepted, unanswered message (scrape time)"
)
DEAD_LETTERS = Gauge("ks_dead_letters", "Entries waiting in the dead-letter stream (scrape time)")


def _allowed(request: web.Request, token: str | None) -> bool:
    if token:
        given = request.headers.get("Authorization", "").encode()
        return hmac.compare_digest(given, f"Bearer {token}".encode())
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


async def _read_redis_gauges(request: web.Request) -> None:
    from bot.channels.deadletter import dead_letter_count
    from bot.keys import REDIS, SETTINGS

    redis, prefix = request.app[REDIS], request.app[SETTINGS].redis_prefix
    stream = f"{prefix}inbox"
    # Answered entries are deleted, so the stream holds exactly the unanswered ones;
    # an entry id starts with the millisecond it was accepted.
    backlog, oldest, dead = await asyncio.gather(
        redis.xlen(stream),
        redis.xrange(stream, count=1),
        dead_letter_count(redis, prefix),
    )
    INBOX_BACKLOG.set(int(backlog))
    if oldest:
        entry_id = oldest[0][0]
        millis = int(
            str(entry_id.decode() if isinstance(entry_id, bytes) else entry_id).split("-")[0]
        )
        INBOX_LAG.set(max(0.0, time.time() - millis / 1000))
    else:
        INBOX_LAG.set(0)
    DEAD_LETTERS.set(int(dead))


async def metrics(request: web.Request) -> web.Response:
    from bot.keys import SETTINGS

    settings = request.app[SETTINGS]
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    if not _allowed(request, token):
        raise web.HTTPForbidden()
    # Redis down: the counters still answer; the gauges keep their last value.
    with contextlib.suppress(RedisError, OSError, asyncio.TimeoutError):
        await asyncio.wait_for(_read_redis_gauges(request), timeout=2.0)
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
