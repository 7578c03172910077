from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from tests.gateway.conftest import FakeRasa, settings_for

Client = TestClient[Any, Any]


async def test_healthz_answers(gateway: Client) -> None:
    response = await gateway.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_ready_when_rasa_has_a_model_and_redis_answers(gateway: Client) -> None:
    response = await gateway.get("/readyz")
    assert response.status == 200
    body = await response.json()
    assert body["checks"] == {"rasa": "ok", "redis": "ok", "inbox": "ok"}
    assert body["dead_letters"] == 0


async def test_not_ready_says_which_dependency_is_missing(
    fake_rasa: tuple[FakeRasa, str], redis_prefix: str
) -> None:
    fake, url = fake_rasa
    fake.mode = "no_model"
    app = create_app(settings_for(url, redis_prefix, REDIS_URL="redis://127.0.0.1:1/0"))
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/readyz")
        assert response.status == 503
        body = await response.json()
        assert body["status"] == "not_ready"
        assert body["checks"]["rasa"] != "ok"
        assert body["checks"]["redis"] == "not reachable"
        assert body["checks"]["inbox"] == "cannot accept messages"


async def test_web_chat_page_is_served_in_indonesian(gateway: Client) -> None:
    response = await gateway.get("/")
    assert response.status == 200
    html = await response.text()
    assert '<html lang="id">' in html
    assert "/api/v1/chat" in html
    script = await gateway.get("/static/chat.js")
    assert script.status == 200
    assert "textContent" in await script.text()
