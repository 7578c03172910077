"""The reminder worker as part of the gateway (a `cleanup_ctx` after the channels')."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bot.channels.setup import CHANNELS
from bot.keys import REDIS, SETTINGS
from bot.reminders.planning import planning_loop
from bot.reminders.senders import Sender, TelegramSender, WhatsAppSender
from bot.reminders.worker import ReminderWorker, WorkerOptions

__all__ = ["REMINDERS", "reminders_ctx"]

logger = logging.getLogger(__name__)

REMINDERS = web.AppKey("reminders", ReminderWorker)


async def reminders_ctx(app: web.Application) -> AsyncIterator[None]:
    """Runs while Telegram or WhatsApp is configured and KS_REMINDER_WORKERS > 0."""
    settings, redis, channels = app[SETTINGS], app[REDIS], app[CHANNELS]
    senders: dict[str, Sender] = {}
    telegram = channels.telegram
    if telegram is not None:
        senders["telegram"] = TelegramSender(
            telegram.application.bot,
            redis,
            settings.redis_prefix,
            ready=lambda: telegram.status == "ok",
        )
    if channels.whatsapp is not None:
        senders["whatsapp"] = WhatsAppSender(
            channels.whatsapp.client,
            redis,
            settings.redis_prefix,
            reminder_template=settings.whatsapp_template_reminder,
            broadcast_template=settings.whatsapp_template_broadcast,
            language=settings.whatsapp_template_language,
        )
    if not senders or settings.reminder_workers == 0:
        logger.info("Reminder worker off (no channel configured, or KS_REMINDER_WORKERS=0)")
        yield
        return
    worker = ReminderWorker(
        redis,
        settings.redis_prefix,
        settings.instance_name,
        senders,
        WorkerOptions(concurrency=settings.reminder_workers),
    )
    app[REMINDERS] = worker
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(worker.run(stop))
    planner = asyncio.get_running_loop().create_task(
        planning_loop(redis, settings.redis_prefix, settings.reminder_plan_interval_seconds, stop)
    )
    yield
    # The stop event, not only cancel(): a cancellation landing inside a Redis call can be
    # absorbed by the client, and shutdown must not hang on it.
    stop.set()
    await asyncio.wait([task, planner], timeout=worker.options.stop_grace_seconds + 3)
    if not planner.done():
        planner.cancel()
    if not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=1)
