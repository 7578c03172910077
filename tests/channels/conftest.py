"""Channels against fake Telegram and Graph API servers, a fake Rasa and real Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.channels.setup import CHANNELS
from bot.settings import Settings
from tests.conftest import TEST_REDIS_URL
from tests.fakes.graph_api import FakeGraph
from tests.fakes.rasa_api import RASA_TOKEN, EchoRasa
from tests.fakes.telegram_api import FakeTelegram

TG_SECRET = "rahasia-webhook_123"
WA_SECRET = "app-secret-for-tests"
WA_VERIFY = "verify-me"
PHONE_ID = "1098765432"
GRAPH_VERSION = "v23.0"

Client = TestClient[Any, Any]


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for something the gateway does in the background."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def until_async(check: Callable[[], Awaitable[Any]], timeout: float = 5.0) -> None:
    """Wait until an awaitable check (a Redis read, say) comes back true."""
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


@pytest.fixture
async def rasa() -> AsyncIterator[tuple[EchoRasa, str]]:
    fake = EchoRasa()
    url = await fake.start()
    yield fake, url
    await fake.close()


@pytest.fixture
async def telegram_api() -> AsyncIterator[tuple[FakeTelegram, str]]:
    fake = FakeTelegram()
    url = await fake.start()
    yield fake, url
    await fake.close()


@pytest.fixture
async def graph_api() -> AsyncIterator[tuple[FakeGraph, str]]:
    fake = FakeGraph(phone_number_id=PHONE_ID, version=GRAPH_VERSION)
    url = await fake.start()
    yield fake, url
    await fake.close()


def channel_settings(
    rasa_url: str, telegram_url: str, graph_url: str, prefix: str, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "RASA_URL": rasa_url,
        "RASA_TIMEOUT": 1.0,
        "RASA_TOKEN": RASA_TOKEN,
        "REDIS_URL": TEST_REDIS_URL,
        "KS_REDIS_PREFIX": prefix,
        "KS_INSTANCE": "test-gateway",
        "KS_PUBLIC_URL": "https://kawan.example.id",
        "KS_RETRY_BACKOFF_SECONDS": 0.02,
        "TELEGRAM_BOT_TOKEN": FakeTelegram().token,
        "TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
        "TELEGRAM_API_BASE_URL": telegram_url,
        "TELEGRAM_MODE": "webhook",
        "TELEGRAM_MESSAGES_PER_SECOND": 1000,
        "TELEGRAM_CHAT_MESSAGES_PER_SECOND": 1000,
        "WHATSAPP_ACCESS_TOKEN": FakeGraph().access_token,
        "WHATSAPP_APP_SECRET": WA_SECRET,
        "WHATSAPP_VERIFY_TOKEN": WA_VERIFY,
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_ID,
        "WHATSAPP_API_BASE_URL": f"{graph_url}/{GRAPH_VERSION}",
        "WHATSAPP_MESSAGES_PER_SECOND": 1000,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Stack:
    client: Client
    rasa: EchoRasa
    telegram: FakeTelegram
    graph: FakeGraph
    settings: Settings

    async def telegram_update(self, update: dict[str, Any], secret: str | None = TG_SECRET) -> int:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        response = await self.client.post("/webhooks/telegram", json=update, headers=headers)
        return response.status

    async def whatsapp_payload(self, payload: Any, signature: str | None = "valid") -> int:
        from tests.fakes.graph_api import sign

        raw = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "valid":
            headers["X-Hub-Signature-256"] = sign(raw, WA_SECRET)
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        response = await self.client.post("/webhooks/whatsapp", data=raw, headers=headers)
        return response.status


async def start_stack(
    rasa: tuple[EchoRasa, str],
    telegram_api: tuple[FakeTelegram, str],
    graph_api: tuple[FakeGraph, str],
    prefix: str,
    **overrides: Any,
) -> Stack:
    settings = channel_settings(rasa[1], telegram_api[1], graph_api[1], prefix, **overrides)
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    channels = client.app[CHANNELS]
    if channels.telegram is not None:
        await until(lambda: channels.telegram is not None and channels.telegram.status == "ok")
    return Stack(client, rasa[0], telegram_api[0], graph_api[0], settings)


@pytest.fixture
async def stack(
    rasa: tuple[EchoRasa, str],
    telegram_api: tuple[FakeTelegram, str],
    graph_api: tuple[FakeGraph, str],
    redis_prefix: str,
    redis: object,
) -> AsyncIterator[Stack]:
    running = await start_stack(rasa, telegram_api, graph_api, redis_prefix)
    yield running
    await running.client.close()
