"""The gateway against a fake Rasa server (a local HTTP server that records and misbehaves)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.settings import Settings
from tests.conftest import TEST_REDIS_URL
from tests.fakes.rasa_api import RASA_TOKEN, refused

# An integrator's key (KS_API_KEYS): such callers choose user_id, as the contract says.
API_KEY = "integrator-key-for-tests-0123"
INTEGRATOR = {"Authorization": f"Bearer {API_KEY}"}


@dataclass
class FakeRasa:
    """Answers like our Rasa channel; `mode` injects failures."""

    mode: str = "ok"  # ok | slow | error | garbage | no_model
    requests: list[dict[str, Any]] = field(default_factory=list)
    delay: float = 5.0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/webhooks/gateway/webhook", self.webhook)
        app.router.add_get("/webhooks/gateway/", self.status)
        return app

    async def webhook(self, request: web.Request) -> web.Response:
        if (refusal := refused(request)) is not None:
            return refusal
        body = await request.json()
        self.requests.append(body)
        if self.mode == "slow":
            await asyncio.sleep(self.delay)
        if self.mode == "error":
            return web.json_response({"error": "message handling failed"}, status=500)
        if self.mode == "garbage":
            return web.Response(text="<html>oops</html>")
        return web.json_response(
            {
                "messages": [
                    {
                        "recipient_id": body["sender"],
                        "text": "Imunisasi rutin bayi dimulai dari HB0.\n\nSumber: Buku KIA",
                        "buttons": [{"title": "Efek imunisasi", "payload": "/imunisasi.kipi"}],
                    },
                    {"recipient_id": body["sender"], "image": "https://example.invalid/x.png"},
                ],
                "intent": "imunisasi.jadwal",
                "confidence": 0.93,
                "faq_id": "imunisasi.jadwal",
                "entities": [],
            }
        )

    async def status(self, request: web.Request) -> web.Response:
        if (refusal := refused(request)) is not None:
            return refusal
        return web.json_response({"status": "ok", "model_loaded": self.mode != "no_model"})


@pytest.fixture
async def fake_rasa() -> AsyncIterator[tuple[FakeRasa, str]]:
    fake = FakeRasa()
    server = TestServer(fake.app())
    await server.start_server()
    yield fake, str(server.make_url(""))
    await server.close()


def settings_for(rasa_url: str, redis_prefix: str, **overrides: Any) -> Settings:
    values = {
        "RASA_URL": rasa_url,
        "RASA_TIMEOUT": 0.5,
        "REDIS_URL": TEST_REDIS_URL,
        "KS_REDIS_PREFIX": redis_prefix,
        "RASA_TOKEN": RASA_TOKEN,
        "KS_API_KEYS": f"other-integrator-key-0001,{API_KEY}",
        "KS_SECRET_KEY": "gateway-test-secret-0123456789",
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def gateway(
    fake_rasa: tuple[FakeRasa, str], redis_prefix: str
) -> AsyncIterator[TestClient[Any, Any]]:
    """An integrator's client: every request carries a valid API key."""
    _, url = fake_rasa
    client = TestClient(TestServer(create_app(settings_for(url, redis_prefix))), headers=INTEGRATOR)
    await client.start_server()
    yield client
    await client.close()


@pytest.fixture
async def browser(
    fake_rasa: tuple[FakeRasa, str], redis_prefix: str
) -> AsyncIterator[TestClient[Any, Any]]:
    """A web page visitor: no key, cookies kept like a browser keeps them."""
    _, url = fake_rasa
    client = TestClient(TestServer(create_app(settings_for(url, redis_prefix))))
    await client.start_server()
    yield client
    await client.close()
