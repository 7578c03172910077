"""Doors a script could use against other users: what a Telegram or WhatsApp user notices."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient

from tests.channels.conftest import PHONE_ID, EchoRasa, Stack, start_stack, until
from tests.fakes import graph_api as wa
from tests.fakes import telegram_api as tg
from tests.fakes.graph_api import FakeGraph
from tests.fakes.telegram_api import FakeTelegram


async def test_a_web_flood_gets_429_while_a_telegram_user_is_answered(
    rasa: tuple[EchoRasa, str],
    telegram_api: tuple[FakeTelegram, str],
    graph_api: tuple[FakeGraph, str],
    redis_prefix: str,
    redis: object,
) -> None:
    rasa[0].delay = 0.3  # Rasa thinking: the flood would hold every slot
    stack = await start_stack(
        rasa,
        telegram_api,
        graph_api,
        redis_prefix,
        RASA_MAX_CONCURRENCY=4,
        RASA_TIMEOUT=3.0,
        KS_WEB_IP_MESSAGES_PER_MINUTE=30,
    )
    try:
        flooder: TestClient[Any, Any] = TestClient(stack.client.server, cookie_jar=DummyCookieJar())

        async def one() -> int:
            response = await flooder.post("/api/v1/chat", json={"text": "spam"})
            return response.status

        flood = [asyncio.create_task(one()) for _ in range(80)]
        await asyncio.sleep(0.1)  # the flood is in
        started = asyncio.get_running_loop().time()
        assert await stack.telegram_update(tg.text_update(9001, 4242, "jadwal imunisasi")) == 200
        await until(lambda: bool(stack.telegram.sent_to(4242)), timeout=3.0)
        waited = asyncio.get_running_loop().time() - started
        statuses = await asyncio.gather(*flood)
    finally:
        await stack.client.close()
    assert stack.telegram.sent_to(4242) == ["Jawaban: jadwal imunisasi"]
    assert waited < 1.5, f"the Telegram user waited {waited:.1f} s behind the flood"
    assert statuses.count(429) >= 50
    assert set(statuses) <= {200, 429, 503}
    assert rasa[0].most_in_flight <= 4


async def test_typed_intent_text_on_whatsapp_goes_through_nlu(stack: Stack) -> None:
    payload = wa.envelope(
        messages=[wa.text_message("wamid.SLASH1", "6281200000009", "/emergency")],
        statuses=[],
        phone_number_id=PHONE_ID,
    )
    assert await stack.whatsapp_payload(payload) == 200
    await until(lambda: bool(stack.rasa.requests))
    assert stack.rasa.texts_from("wa:6281200000009") == ["emergency"]


async def test_typed_intent_text_on_telegram_goes_through_nlu(stack: Stack) -> None:
    assert await stack.telegram_update(tg.text_update(77, 31337, '/greet{"x": 1}')) == 200
    await until(lambda: bool(stack.rasa.requests))
    [text] = stack.rasa.texts_from("tg:31337")
    assert not text.startswith("/")
