"""Application factory: `create_app(settings)` wires routes and owned resources."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import yaml
from aiohttp import web
from redis.asyncio import BlockingConnectionPool, Redis

from actions.pseudonym import deployment_secret
from actions.retention import run_once_per_interval
from bot import chat, console, health, webchat
from bot.access import SessionSigner, security_headers
from bot.channels.setup import add_routes, channels_ctx
from bot.errors import json_errors
from bot.keys import (
    DOMAIN_INTENTS,
    HTTP_SESSION,
    MESSAGES,
    RASA,
    REDIS,
    SAFETY,
    SESSIONS,
    SETTINGS,
    WEB_SLOTS,
)
from bot.logs import quiet_libraries
from bot.metrics import metrics
from bot.periodic import repeat
from bot.rasa_client import RasaClient
from bot.reminders.gateway import reminders_ctx
from bot.safety import SafetyNet
from bot.settings import Settings

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MESSAGES_FILE = Path(__file__).parent / "messages.yml"
# Large enough for a 4096-character message in any script, small enough to refuse floods.
MAX_BODY_BYTES = 64 * 1024


async def _http_session(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    session = aiohttp.ClientSession(raise_for_status=False)
    app[HTTP_SESSION] = session
    app[RASA] = RasaClient(
        session,
        str(settings.rasa_url),
        settings.rasa_timeout_seconds,
        settings.rasa_token.get_secret_value() if settings.rasa_token else None,
        max_concurrency=settings.rasa_max_concurrency,
    )
    yield
    await session.close()


async def _redis(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    # A blocking pool: under load a request waits for a free connection instead of failing.
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=5.0,
        socket_timeout=2.0,
        socket_connect_timeout=2.0,
    )
    redis = Redis.from_pool(pool)
    app[REDIS] = redis
    yield
    await redis.aclose()


async def _retention(app: web.Application) -> AsyncIterator[None]:
    """The retention job (actions/retention.py), once per interval across all instances."""
    settings = app[SETTINGS]
    interval = settings.retention_interval_seconds

    stopping = asyncio.Event()

    async def once() -> None:
        await run_once_per_interval(app[REDIS], settings.redis_prefix, interval)

    task = asyncio.get_running_loop().create_task(
        repeat(once, min(interval, 600), stopping, "Retention job")
    )
    yield
    stopping.set()
    task.cancel()
    await asyncio.wait([task], timeout=5)


class ConfigurationError(Exception):
    """The settings must not start a service (listed problems)."""


def create_app(settings: Settings) -> web.Application:
    problems = settings.problems()
    if problems:
        raise ConfigurationError("; ".join(problems))
    quiet_libraries()
    app = web.Application(
        middlewares=[security_headers, json_errors], client_max_size=MAX_BODY_BYTES
    )
    app[SETTINGS] = settings
    secret = settings.secret_key.get_secret_value().encode() if settings.secret_key else None
    app[SESSIONS] = SessionSigner(secret or deployment_secret())
    app[WEB_SLOTS] = asyncio.Semaphore(settings.web_rasa_slots)
    app[MESSAGES] = yaml.safe_load(MESSAGES_FILE.read_text(encoding="utf-8"))
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    app[DOMAIN_INTENTS] = {str(intent) for intent in domain.get("intents", [])}
    app[SAFETY] = SafetyNet.load(domain)
    app.cleanup_ctx.extend([_http_session, _redis, channels_ctx, reminders_ctx, _retention])
    add_routes(app)
    console.setup(app)
    app.router.add_get("/", webchat.page)
    app.router.add_static("/static/", webchat.STATIC)
    app.router.add_post("/api/v1/chat", chat.chat)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", metrics)
    return app
