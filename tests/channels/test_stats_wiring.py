"""Telegram and WhatsApp feed the console's dashboard: one question per message, however
often the platform delivers it or the reply has to be sent again."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.channels.setup import CHANNELS
from bot.console.stats import UNKNOWN, dashboard, iso_week
from tests.channels.conftest import PHONE_ID, Stack, until_async
from tests.fakes import graph_api as wa
from tests.fakes import telegram_api as tg

TOPIC = "x"  # the intent the fake Rasa gives every message


async def questions(redis: Redis, prefix: str) -> list[tuple[str, str, str, str]]:
    rows = await dashboard(redis, prefix, weeks=1, level="kabupaten", scope=[])
    return [(r.topic, r.region_code, r.questions_text, r.people_text) for r in rows]


async def all_answered(stack: Stack) -> None:
    inbox = stack.client.app[CHANNELS].inbox

    async def nothing_pending() -> bool:
        return await inbox.pending_count() == 0

    await until_async(nothing_pending)
    await asyncio.sleep(0.3)


async def settled(stack: Stack, redis: Redis, prefix: str, expected: Any) -> None:
    """Wait until the dashboard shows `expected`, then check nothing more comes in."""

    async def shown() -> bool:
        return await questions(redis, prefix) == expected

    await until_async(shown)
    await all_answered(stack)
    assert await questions(redis, prefix) == expected


async def test_a_redelivered_telegram_update_or_a_resent_reply_counts_once(
    stack: Stack, redis: Redis, redis_prefix: str
) -> None:
    channel = stack.client.app[CHANNELS].telegram
    assert channel is not None
    real_send = channel.send
    failures = [ConnectionError("store went away mid-send")]

    async def flaky_send(*args: Any, **kwargs: Any) -> None:
        if failures:
            raise failures.pop()
        await real_send(*args, **kwargs)

    channel.send = flaky_send  # type: ignore[method-assign]
    for n in range(10):
        update = tg.text_update(500 + n, 700000 + n, "jadwal imunisasi")
        for _ in range(2):  # Telegram delivers again when it missed our 200
            assert await stack.telegram_update(update) == 200
    await stack.telegram.wait_for_sent(10)
    await settled(stack, redis, redis_prefix, [(TOPIC, UNKNOWN, "10", "10")])
    assert len(stack.rasa.requests) == 10


async def test_a_duplicate_whatsapp_message_counts_once(
    stack: Stack, redis: Redis, redis_prefix: str
) -> None:
    for n in range(10):
        message = wa.text_message(f"wamid.S{n}", f"62812000000{n:02d}", "cara cegah dbd")
        payload = wa.envelope(messages=[message], statuses=[], phone_number_id=PHONE_ID)
        for _ in range(3):  # Meta delivers webhooks more than once
            assert await stack.whatsapp_payload(payload) == 200
    await stack.graph.wait_for_messages(10)
    await settled(stack, redis, redis_prefix, [(TOPIC, UNKNOWN, "10", "10")])


async def test_a_redis_failure_in_the_dashboard_does_not_hold_back_the_reply(
    stack: Stack, redis: Redis, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A real Redis error (WRONGTYPE): the week's index of the dashboard holds a string.
    await redis.set(f"{redis_prefix}stats:kabs:{iso_week(time.time())}", "rusak")
    await stack.telegram_update(tg.text_update(600, 710000, "jadwal imunisasi"))
    await stack.telegram.wait_for_sent(1)
    await all_answered(stack)
    assert stack.telegram.sent_to(710000) == ["Jawaban: jadwal imunisasi"]  # once, at once
    assert len(stack.rasa.requests) == 1  # not retried
    assert "Dashboard: a turn was not counted (ResponseError)" in caplog.text
    assert "710000" not in caplog.text
