"""Wiring of the messaging channels into the gateway app (routes and owned tasks)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from bot.channels.conversation import Conversation
from bot.channels.graph import GraphClient
from bot.channels.inbox import Inbox
from bot.channels.telegram import TelegramChannel
from bot.channels.whatsapp import WhatsAppChannel
from bot.errors import ApiError
from bot.keys import DOMAIN_INTENTS, HTTP_SESSION, MESSAGES, RASA, REDIS, SAFETY, SETTINGS

__all__ = ["CHANNELS", "Channels", "add_routes", "channels_ctx"]

logger = logging.getLogger(__name__)


@dataclass
class Channels:
    inbox: Inbox
    telegram: TelegramChannel | None
    whatsapp: WhatsAppChannel | None

    def status(self) -> dict[str, str]:
        return {
            "telegram": self.telegram.status if self.telegram else "off",
            "whatsapp": "ok" if self.whatsapp else "off",
        }


CHANNELS = web.AppKey("channels", Channels)


async def channels_ctx(app: web.Application) -> AsyncIterator[None]:
    settings, redis = app[SETTINGS], app[REDIS]
    inbox = Inbox(
        redis,
        settings.redis_prefix,
        settings.instance_name,
        dedup_ttl_seconds=settings.dedup_ttl_hours * 3600,
        retry_base_seconds=settings.retry_backoff_seconds,
    )
    conversation = Conversation(
        app[RASA],
        redis,
        settings.redis_prefix,
        app[MESSAGES],
        app[SAFETY],
        user_messages_per_minute=settings.user_messages_per_minute,
    )
    telegram = whatsapp = None
    if settings.telegram_enabled:
        telegram = TelegramChannel(
            settings, redis, inbox, conversation, app[MESSAGES], app[DOMAIN_INTENTS]
        )
        await telegram.start()
    else:
        logger.info("Telegram channel off: TELEGRAM_BOT_TOKEN is unset")
    if settings.whatsapp_enabled:
        assert settings.whatsapp_access_token and settings.whatsapp_phone_number_id
        client = GraphClient(
            app[HTTP_SESSION],
            str(settings.whatsapp_api_base_url),
            settings.whatsapp_phone_number_id,
            settings.whatsapp_access_token.get_secret_value(),
            per_second=settings.whatsapp_messages_per_second,
            backoff_seconds=settings.retry_backoff_seconds,
        )
        whatsapp = WhatsAppChannel(settings, redis, inbox, conversation, app[MESSAGES], client)
        logger.info("WhatsApp channel on")
    else:
        logger.info("WhatsApp channel off: WHATSAPP_ACCESS_TOKEN or WHATSAPP_PHONE_NUMBER_ID unset")
    app[CHANNELS] = Channels(inbox, telegram, whatsapp)
    worker = asyncio.get_running_loop().create_task(inbox.run()) if telegram or whatsapp else None
    yield
    if worker is not None:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
    if telegram is not None:
        await telegram.stop()


def add_routes(app: web.Application) -> None:
    app.router.add_post("/webhooks/telegram", _telegram)
    app.router.add_get("/webhooks/whatsapp", _whatsapp_verify)
    app.router.add_post("/webhooks/whatsapp", _whatsapp)


def _off(name: str) -> ApiError:
    return ApiError(404, "channel_off", f"The {name} channel is not configured.")


async def _telegram(request: web.Request) -> web.Response:
    channel = request.app[CHANNELS].telegram
    if channel is None:
        raise _off("Telegram")
    return await channel.webhook(request)


async def _whatsapp_verify(request: web.Request) -> web.Response:
    channel = request.app[CHANNELS].whatsapp
    if channel is None:
        raise _off("WhatsApp")
    return await channel.verify(request)


async def _whatsapp(request: web.Request) -> web.Response:
    channel = request.app[CHANNELS].whatsapp
    if channel is None:
        raise _off("WhatsApp")
    return await channel.webhook(request)
