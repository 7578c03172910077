"""`python -m bot.reminders`: a reminder worker on its own, without the gateway.

Reads the gateway's variables (REDIS_URL, KS_REDIS_PREFIX, KS_INSTANCE, the
channel and template variables, KS_REMINDER_WORKERS). Stops on SIGTERM or SIGINT
after the sends in flight; a SIGKILL loses nothing (see `worker.py`). Its rate
limiters are its own: run it instead of, not beside, the gateway's worker when the
platform limits matter.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

import aiohttp
from redis.asyncio import Redis
from telegram.error import InvalidToken, TelegramError
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.channels.graph import GraphClient
from bot.channels.ratelimit import TelegramRateLimiter
from bot.logs import configure, quiet_libraries
from bot.reminders.senders import Sender, TelegramSender, WhatsAppSender
from bot.reminders.worker import ReminderWorker, WorkerOptions
from bot.settings import Settings

logger = logging.getLogger("bot.reminders")


def _parser() -> argparse.ArgumentParser:
    defaults = WorkerOptions()
    parser = argparse.ArgumentParser(prog="python -m bot.reminders", description=__doc__)
    parser.add_argument("--consumer", help="name in the consumer group (default: KS_INSTANCE)")
    parser.add_argument("--claim-idle-seconds", type=float, default=defaults.claim_idle_seconds)
    parser.add_argument("--alive-seconds", type=float, default=defaults.alive_seconds)
    parser.add_argument("--doubt-wait-seconds", type=float, default=defaults.doubt_wait_seconds)
    parser.add_argument("--poll-seconds", type=float, default=defaults.poll_seconds)
    return parser


async def _telegram_bot(settings: Settings) -> ExtBot[None]:
    assert settings.telegram_bot_token is not None
    base = str(settings.telegram_api_base_url).rstrip("/")
    bot: ExtBot[None] = ExtBot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=f"{base}/bot",
        base_file_url=f"{base}/file/bot",
        request=HTTPXRequest(
            connection_pool_size=max(8, settings.reminder_workers),
            connect_timeout=5.0,
            read_timeout=10.0,
            write_timeout=10.0,
            pool_timeout=10.0,
        ),
        rate_limiter=TelegramRateLimiter(
            settings.telegram_messages_per_second, settings.telegram_chat_messages_per_second
        ),
    )
    delay = 1.0
    while True:
        try:
            await bot.initialize()
            return bot
        except InvalidToken:
            raise
        except TelegramError as error:
            logger.warning("Telegram start-up failed (%s); retrying", type(error).__name__)
            await asyncio.sleep(delay)
            delay = min(30.0, delay * 2)


async def run(arguments: argparse.Namespace, settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2.0, socket_timeout=5.0)
    session = aiohttp.ClientSession()
    bot: ExtBot[None] | None = None
    try:
        senders: dict[str, Sender] = {}
        if settings.telegram_enabled:
            bot = await _telegram_bot(settings)
            senders["telegram"] = TelegramSender(bot, redis, settings.redis_prefix)
        if settings.whatsapp_enabled:
            assert settings.whatsapp_access_token and settings.whatsapp_phone_number_id
            client = GraphClient(
                session,
                str(settings.whatsapp_api_base_url),
                settings.whatsapp_phone_number_id,
                settings.whatsapp_access_token.get_secret_value(),
                per_second=settings.whatsapp_messages_per_second,
                backoff_seconds=settings.retry_backoff_seconds,
            )
            senders["whatsapp"] = WhatsAppSender(
                client,
                redis,
                settings.redis_prefix,
                reminder_template=settings.whatsapp_template_reminder,
                broadcast_template=settings.whatsapp_template_broadcast,
                language=settings.whatsapp_template_language,
            )
        if not senders:
            logger.error("No channel configured (TELEGRAM_BOT_TOKEN, WHATSAPP_*): nothing to do")
            return 2
        options = WorkerOptions(
            concurrency=max(1, settings.reminder_workers),
            claim_idle_seconds=arguments.claim_idle_seconds,
            alive_seconds=arguments.alive_seconds,
            doubt_wait_seconds=arguments.doubt_wait_seconds,
            poll_seconds=arguments.poll_seconds,
        )
        consumer = arguments.consumer or settings.instance_name
        worker = ReminderWorker(redis, settings.redis_prefix, consumer, senders, options)
        await worker.run(stop)
        return 0
    finally:
        if bot is not None:
            with contextlib.suppress(Exception):
                await bot.shutdown()
        await session.close()
        await redis.aclose()


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    settings = Settings()
    configure(settings.log_level, json_lines=settings.log_format == "json")
    quiet_libraries()
    # httpx logs every request URL at INFO, and Bot API URLs carry the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return asyncio.run(run(arguments, settings))


if __name__ == "__main__":
    sys.exit(main())
