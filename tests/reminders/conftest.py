"""The sending engine against real Redis and the fake Telegram and Graph API servers."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis
from telegram.ext import ExtBot

from actions.reminders.model import Send
from bot.channels.graph import GraphClient
from bot.channels.ratelimit import TelegramRateLimiter
from bot.reminders.quiet import is_quiet
from bot.reminders.senders import Sender, TelegramSender, WhatsAppSender
from bot.reminders.worker import ReminderWorker, WorkerOptions
from tests.reminders.platforms import LimitedGraph, LimitedTelegram

PHONE_ID = "1098765432"
GRAPH_VERSION = "v23.0"
REMINDER_TEMPLATE = "kawan_sehat_pengingat"  # approved in the fake Graph API
FAST = WorkerOptions(
    concurrency=16,
    poll_seconds=0.05,
    claim_idle_seconds=1.0,
    alive_seconds=1.0,
    doubt_wait_seconds=1.0,
    stop_grace_seconds=2.0,
)


def awake_offset(now: float | None = None) -> int:
    """A UTC offset where it is now daytime (08-19 local), so tests are not held till 06.00."""
    moment = dt.datetime.now(dt.UTC).timestamp() if now is None else now
    for offset in (7, 8, 9, *range(-12, 15)):
        hour = dt.datetime.fromtimestamp(moment + offset * 3600, dt.UTC).hour
        if 8 <= hour < 19 and not is_quiet(moment, offset):
            return offset
    raise AssertionError("unreachable: some offset is always in daytime")


def tg_send(number: int, **fields: Any) -> Send:
    values: dict[str, Any] = {
        "key": f"bc:B1:tg{number}",
        "due": 0.0,
        "channel": "telegram",
        "address": str(900000 + number),
        "text": f"Besok Posyandu Melati buka jam 08.00 ({number})",
        "utc_offset_hours": awake_offset(),
        "subscriber": f"sub-tg-{number}",
        "broadcast": "B1",
        **fields,
    }
    return Send(**values)


def wa_send(number: int, **fields: Any) -> Send:
    values: dict[str, Any] = {
        "key": f"bc:B1:wa{number}",
        "due": 0.0,
        "channel": "whatsapp",
        "address": f"62812{number:07d}",
        "text": f"Besok Posyandu Melati buka jam 08.00 ({number})",
        "utc_offset_hours": awake_offset(),
        "params": ("Melati", "Selasa, 10 Juni", "08.00-11.00"),
        "subscriber": f"sub-wa-{number}",
        "broadcast": "B1",
        **fields,
    }
    return Send(**values)


async def until(check: Callable[[], Any], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            result = check()
            if isinstance(result, Awaitable):
                result = await result
            if result:
                return
            await asyncio.sleep(0.02)


@pytest.fixture
async def telegram_api() -> AsyncIterator[tuple[LimitedTelegram, str]]:
    fake = LimitedTelegram()
    url = await fake.start()
    yield fake, url
    await fake.close()


@pytest.fixture
async def graph_api() -> AsyncIterator[tuple[LimitedGraph, str]]:
    fake = LimitedGraph(phone_number_id=PHONE_ID, version=GRAPH_VERSION)
    url = await fake.start()
    yield fake, url
    await fake.close()


@dataclass
class Platforms:
    telegram: LimitedTelegram
    graph: LimitedGraph
    senders: dict[str, Sender]
    bot: ExtBot[None]


@pytest.fixture
async def platforms(
    telegram_api: tuple[LimitedTelegram, str],
    graph_api: tuple[LimitedGraph, str],
    redis: Redis,
    redis_prefix: str,
) -> AsyncIterator[Platforms]:
    session = aiohttp.ClientSession()
    bot = await telegram_bot(telegram_api[1])
    senders: dict[str, Sender] = {
        "telegram": TelegramSender(bot, redis, redis_prefix),
        "whatsapp": whatsapp_sender(session, graph_api[1], redis, redis_prefix),
    }
    yield Platforms(telegram_api[0], graph_api[0], senders, bot)
    await bot.shutdown()
    await session.close()


async def telegram_bot(url: str, per_second: float = 1000, per_chat: float = 1000) -> ExtBot[None]:
    bot: ExtBot[None] = ExtBot(
        LimitedTelegram().token,
        base_url=f"{url}/bot",
        base_file_url=f"{url}/file/bot",
        rate_limiter=TelegramRateLimiter(per_second, per_chat),
    )
    await bot.initialize()
    return bot


def whatsapp_sender(
    session: aiohttp.ClientSession,
    url: str,
    redis: Redis,
    prefix: str,
    *,
    per_second: float = 1000,
    reminder_template: str | None = REMINDER_TEMPLATE,
    broadcast_template: str | None = REMINDER_TEMPLATE,
) -> WhatsAppSender:
    client = GraphClient(
        session,
        f"{url}/{GRAPH_VERSION}",
        PHONE_ID,
        LimitedGraph().access_token,
        per_second=per_second,
        backoff_seconds=0.05,
    )
    return WhatsAppSender(
        client,
        redis,
        prefix,
        reminder_template=reminder_template,
        broadcast_template=broadcast_template,
        language="id",
    )


@contextlib.asynccontextmanager
async def running(
    redis: Redis,
    prefix: str,
    senders: Mapping[str, Sender],
    *,
    consumer: str = "w1",
    options: WorkerOptions = FAST,
    clock: Callable[[], float] | None = None,
) -> AsyncIterator[ReminderWorker]:
    worker = (
        ReminderWorker(redis, prefix, consumer, senders, options, clock=clock)
        if clock
        else ReminderWorker(redis, prefix, consumer, senders, options)
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
