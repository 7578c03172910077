"""The engine inside the gateway: it sends, hears WhatsApp's statuses, and stops promptly."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.reminders import report, schedule
from bot.reminders.gateway import REMINDERS
from bot.reminders.store import Keys
from tests.channels.conftest import start_stack
from tests.fakes import graph_api as wa
from tests.fakes.rasa_api import EchoRasa
from tests.reminders.conftest import REMINDER_TEMPLATE, tg_send, until, wa_send


@pytest.fixture
async def rasa() -> AsyncIterator[tuple[EchoRasa, str]]:
    fake = EchoRasa()
    url = await fake.start()
    yield fake, url
    await fake.close()


async def test_the_gateway_sends_what_is_due_and_counts_whatsapp_statuses(
    rasa: tuple[EchoRasa, str],
    telegram_api: tuple[Any, str],
    graph_api: tuple[Any, str],
    redis: Redis,
    redis_prefix: str,
) -> None:
    stack = await start_stack(
        rasa,
        telegram_api,
        graph_api,
        redis_prefix,
        KS_WA_TEMPLATE_BROADCAST=REMINDER_TEMPLATE,
    )
    try:
        assert REMINDERS in stack.client.app
        await schedule(redis, redis_prefix, [tg_send(1), wa_send(2)])
        await stack.telegram.wait_for_sent(1)
        [message] = await stack.graph.wait_for_messages(1)
        assert message["type"] == "template"  # no window open: the approved template
        wamid = "wamid.HBgM000000000001"  # the fake Graph API's first message id
        await until(lambda: redis.exists(Keys(redis_prefix).wamid(wamid)))
        assert wamid not in str([k async for k in redis.scan_iter(match=f"{redis_prefix}rem:*")])
        number = wa_send(2).address
        updates = [wa.status_update(wamid, number, s) for s in ("sent", "delivered", "read")]
        for _ in range(2):  # Meta delivers webhooks more than once
            assert await stack.whatsapp_payload(wa.envelope(statuses=updates)) == 200
        counts = await report(redis, redis_prefix, "B1")
        assert {k: counts[k] for k in ("scheduled", "sent", "delivered", "read", "pending")} == {
            "scheduled": 2,
            "sent": 2,
            "delivered": 1,
            "read": 1,
            "pending": 0,
        }
        failed = wa.status_update(
            wamid, number, "failed", errors=[{"code": 131026, "title": "Undeliverable"}]
        )
        assert await stack.whatsapp_payload(wa.envelope(statuses=[failed])) == 200
        assert (await report(redis, redis_prefix, "B1"))["blocked"] == 1
    finally:
        started = time.monotonic()
        await stack.client.close()
        assert time.monotonic() - started < 5, "shutdown waited on the reminder worker"


async def test_no_worker_when_switched_off(
    rasa: tuple[EchoRasa, str],
    telegram_api: tuple[Any, str],
    graph_api: tuple[Any, str],
    redis: Redis,
    redis_prefix: str,
) -> None:
    stack = await start_stack(rasa, telegram_api, graph_api, redis_prefix, KS_REMINDER_WORKERS=0)
    try:
        assert REMINDERS not in stack.client.app
    finally:
        await stack.client.close()
