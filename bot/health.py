"""`/healthz` (the process is alive) and `/readyz` (Rasa has a model, Redis answers)."""

from __future__ import annotations

import asyncio

from aiohttp import web
from redis.exceptions import RedisError

from bot.channels.setup import CHANNELS
from bot.keys import RASA, REDIS


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    rasa_ok, redis_ok = await asyncio.gather(
        request.app[RASA].model_loaded(), _redis_answers(request)
    )
    checks = {
        "rasa": "ok" if rasa_ok else "no model loaded or not reachable",
        "redis": "ok" if redis_ok else "not reachable",
    }
    ready = rasa_ok and redis_ok
    channels = request.app[CHANNELS].status() if CHANNELS in request.app else {}
    return web.json_response(
        {"status": "ready" if ready else "not_ready", "checks": checks, "channels": channels},
        status=200 if ready else 503,
    )


async def _redis_answers(request: web.Request) -> bool:
    try:
        return bool(await asyncio.wait_for(request.app[REDIS].ping(), timeout=1.0))
    except (RedisError, OSError, asyncio.TimeoutError):
        return False
