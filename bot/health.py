"""`/healthz` (the process is alive) and `/readyz` (Rasa has a model, Redis answers, the
inbox can accept a message right now; dead letters are counted, not blocking)."""

from __future__ import annotations

import asyncio

from aiohttp import web
from redis.exceptions import RedisError

from bot.channels.deadletter import dead_letter_count
from bot.channels.setup import CHANNELS
from bot.keys import RASA, REDIS, SETTINGS


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    inbox = app[CHANNELS].inbox if CHANNELS in app else None
    rasa_ok, redis_ok, inbox_ok, dead = await asyncio.gather(
        app[RASA].model_loaded(),
        _redis_answers(request),
        inbox.probe() if inbox is not None else _true(),
        _dead_letters(request),
    )
    checks = {
        "rasa": "ok" if rasa_ok else "no model loaded or not reachable",
        "redis": "ok" if redis_ok else "not reachable",
        "inbox": "ok" if inbox_ok else "cannot accept messages",
    }
    ready = rasa_ok and redis_ok and inbox_ok
    channels = app[CHANNELS].status() if CHANNELS in app else {}
    return web.json_response(
        {
            "status": "ready" if ready else "not_ready",
            "checks": checks,
            "channels": channels,
            # Not a readiness condition (a restart does not fix them): an alert, and
            # `python -m bot.channels.deadletter list|replay`.
            "dead_letters": dead,
        },
        status=200 if ready else 503,
    )


async def _true() -> bool:
    return True


async def _dead_letters(request: web.Request) -> int | None:
    settings = request.app[SETTINGS]
    try:
        return await asyncio.wait_for(
            dead_letter_count(request.app[REDIS], settings.redis_prefix), timeout=1.0
        )
    except (RedisError, OSError, asyncio.TimeoutError):
        return None


async def _redis_answers(request: web.Request) -> bool:
    try:
        return bool(await asyncio.wait_for(request.app[REDIS].ping(), timeout=1.0))
    except (RedisError, OSError, asyncio.TimeoutError):
        return False
