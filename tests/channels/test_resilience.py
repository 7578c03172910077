"""Redis going away and coming back, long polling, and what /readyz tells an operator."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.channels.conftest import PHONE_ID, EchoRasa, start_stack
from tests.fakes import graph_api as wa
from tests.fakes import telegram_api as tg
from tests.fakes.graph_api import FakeGraph
from tests.fakes.telegram_api import FakeTelegram

CHAT = 777001
WA_USER = "6281377700100"
NO_PERSISTENCE = ("--save", "", "--appendonly", "no")


class PrivateRedis:
    """A redis-server of our own, so a test can stop it and start it again on the same port."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", *NO_PERSISTENCE],
            stdout=subprocess.DEVNULL,
        )
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


async def test_when_redis_is_down_the_webhook_asks_for_redelivery_and_the_user_hears_once(
    rasa: tuple[EchoRasa, str],
    telegram_api: tuple[FakeTelegram, str],
    graph_api: tuple[FakeGraph, str],
    private_redis: PrivateRedis,
    redis_prefix: str,
) -> None:
    stack = await start_stack(
        rasa, telegram_api, graph_api, redis_prefix, REDIS_URL=private_redis.url
    )
    telegram = telegram_api[0]
    try:
        assert await stack.telegram_update(tg.text_update(1, CHAT, "halo")) == 200
        await telegram.wait_for_sent(1)

        private_redis.stop()
        lost = tg.text_update(2, CHAT, "jadwal imunisasi")
        assert await stack.telegram_update(lost) == 503  # Telegram delivers it again later
        assert await stack.telegram_update(tg.text_update(3, CHAT, "halo?")) == 503
        ready = await stack.client.get("/readyz")
        assert ready.status == 503
        assert (await ready.json())["checks"]["redis"] != "ok"
        await telegram.wait_for_sent(2)
        for wamid in ("wamid.R1", "wamid.R2"):  # WhatsApp too: 503, and one notice
            payload = wa.envelope([wa.text_message(wamid, WA_USER, "halo")], [], PHONE_ID)
            assert await stack.whatsapp_payload(payload) == 503
        await stack.graph.wait_for_messages(1)
        await asyncio.sleep(0.3)
        notices = telegram.sent_to(CHAT)[1:]
        assert len(notices) == 1 and "sebentar" in notices[0]
        (wa_notice,) = stack.graph.messages_to(WA_USER)
        assert "sebentar" in wa_notice["text"]["body"]

        private_redis.start()
        for _ in range(50):  # Telegram's redelivery, until the gateway's pool reconnects
            if await stack.telegram_update(lost) == 200:
                break
            await asyncio.sleep(0.1)
        await telegram.wait_for_sent(3, timeout=15)
        assert telegram.sent_to(CHAT)[-1] == "Jawaban: jadwal imunisasi"
    finally:
        await stack.client.close()


async def test_long_polling_answers_without_a_webhook(
    rasa: tuple[EchoRasa, str],
    telegram_api: tuple[FakeTelegram, str],
    graph_api: tuple[FakeGraph, str],
    redis_prefix: str,
    redis: Any,
) -> None:
    telegram = telegram_api[0]
    telegram.webhook = {"url": "https://old.example.id/hook"}  # left over from a deployment
    stack = await start_stack(rasa, telegram_api, graph_api, redis_prefix, TELEGRAM_MODE="polling")
    try:
        telegram.queue_update(tg.text_update(40, CHAT + 1, "cara cuci tangan yang benar"))
        telegram.queue_update(tg.location_update(41, CHAT + 1, -4.7368, 123.0985))
        await telegram.wait_for_sent(2, timeout=10)
        assert telegram.sent_to(CHAT + 1)[0] == "Jawaban: cara cuci tangan yang benar"
        methods = [call.method for call in telegram.calls]
        assert "deleteWebhook" in methods and "setWebhook" not in methods
        # Each update once, even though getUpdates is asked again and again.
        await asyncio.sleep(0.3)
        assert len(telegram.sent_to(CHAT + 1)) == 2
    finally:
        await stack.client.close()


async def test_readyz_names_each_channel(
    rasa: tuple[EchoRasa, str],
    telegram_api: tuple[FakeTelegram, str],
    graph_api: tuple[FakeGraph, str],
    redis_prefix: str,
    redis: Any,
) -> None:
    stack = await start_stack(rasa, telegram_api, graph_api, redis_prefix)
    try:
        response = await stack.client.get("/readyz")
        assert response.status == 200
        assert (await response.json())["channels"] == {"telegram": "ok", "whatsapp": "ok"}
    finally:
        await stack.client.close()
    off = await start_stack(
        rasa,
        telegram_api,
        graph_api,
        redis_prefix,
        TELEGRAM_BOT_TOKEN=None,
        WHATSAPP_ACCESS_TOKEN=None,
    )
    try:
        body = await (await off.client.get("/readyz")).json()
        assert body["channels"] == {"telegram": "off", "whatsapp": "off"}
        assert (await off.client.post("/webhooks/telegram", json={})).status == 404
        assert (await off.client.get("/webhooks/whatsapp")).status == 404
    finally:
        await off.client.close()
