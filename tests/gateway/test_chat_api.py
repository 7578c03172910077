from __future__ import annotations

import time
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from tests.gateway.conftest import FakeRasa, settings_for

Client = TestClient[Any, Any]


async def test_chat_returns_replies_intent_confidence_and_faq(
    gateway: Client, fake_rasa: tuple[FakeRasa, str]
) -> None:
    fake, _ = fake_rasa
    response = await gateway.post("/api/v1/chat", json={"user_id": "u1", "text": "jadwal imun"})
    assert response.status == 200
    body = await response.json()
    assert body == {
        "replies": [
            {
                "text": "Imunisasi rutin bayi dimulai dari HB0.\n\nSumber: Buku KIA",
                "buttons": [{"title": "Efek imunisasi", "payload": "/imunisasi.kipi"}],
            }
        ],
        "intent": "imunisasi.jadwal",
        "confidence": 0.93,
        "faq_id": "imunisasi.jadwal",
    }
    assert fake.requests == [
        {
            "sender": "web:u1",
            "message": "jadwal imun",
            "metadata": {"channel": "web", "locale": "id"},
        }
    ]


async def test_empty_text_is_refused_with_a_clear_error(gateway: Client) -> None:
    response = await gateway.post("/api/v1/chat", json={"user_id": "u1", "text": "   "})
    assert response.status == 400
    body = await response.json()
    assert body["error"]["code"] == "invalid_request"
    assert "text" in body["error"]["message"]


async def test_oversized_text_is_refused(gateway: Client, fake_rasa: tuple[FakeRasa, str]) -> None:
    response = await gateway.post("/api/v1/chat", json={"user_id": "u1", "text": "a" * 4097})
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "text_too_long"
    assert fake_rasa[0].requests == []


async def test_text_of_exactly_the_limit_is_accepted(gateway: Client) -> None:
    response = await gateway.post("/api/v1/chat", json={"user_id": "u1", "text": "a" * 4096})
    assert response.status == 200


async def test_huge_body_is_refused_before_parsing(gateway: Client) -> None:
    response = await gateway.post(
        "/api/v1/chat", data=b'{"user_id": "u1", "text": "' + b"a" * 200_000 + b'"}'
    )
    assert response.status == 413
    assert "error" in await response.json()


async def test_malformed_json_gets_400(gateway: Client) -> None:
    for raw in (b"{not json", b"", b"[1, 2]", b"\xff\xfe\x00"):
        response = await gateway.post(
            "/api/v1/chat", data=raw, headers={"Content-Type": "application/json"}
        )
        assert response.status == 400, raw
        assert (await response.json())["error"]["code"] in {
            "malformed_json",
            "empty_body",
            "not_an_object",
        }


async def test_wrong_types_get_400(gateway: Client) -> None:
    for body in (
        {"user_id": 5, "text": "halo"},
        {"user_id": "u1", "text": ["halo"]},
        {"text": "halo"},
        {"user_id": "a b", "text": "halo"},
        {"user_id": "u1", "location": {"lat": 999, "lon": 0}},
        {"user_id": "u1", "text": "halo", "location": {"lat": 1, "lon": 2}},
    ):
        response = await gateway.post("/api/v1/chat", json=body)
        assert response.status == 400, body


async def test_location_is_passed_to_rasa_as_a_share_location_payload(
    gateway: Client, fake_rasa: tuple[FakeRasa, str]
) -> None:
    response = await gateway.post(
        "/api/v1/chat", json={"user_id": "u1", "location": {"lat": -4.7, "lon": 123.1}}
    )
    assert response.status == 200
    [sent] = fake_rasa[0].requests
    assert sent["message"] == '/share_location{"lat": -4.7, "lon": 123.1}'


async def test_rasa_down_gets_503_and_a_polite_message(redis_prefix: str) -> None:
    app = create_app(settings_for("http://127.0.0.1:1", redis_prefix))
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/api/v1/chat", json={"user_id": "u1", "text": "halo"})
        assert response.status == 503
        body = await response.json()
        assert body["error"]["code"] == "assistant_unavailable"
        assert body["replies"] == [
            {
                "text": "Maaf, Kawan Sehat sedang sibuk atau gangguan. Coba lagi sebentar, ya.",
                "buttons": [],
            }
        ]


async def test_rasa_down_still_answers_a_danger_sign_first(redis_prefix: str) -> None:
    app = create_app(settings_for("http://127.0.0.1:1", redis_prefix))
    async with TestClient(TestServer(app)) as client:
        response = await client.post(
            "/api/v1/chat",
            json={"user_id": "u1", "text": "tolong istri sy hamil keluar darah bnyk"},
        )
        assert response.status == 503
        body = await response.json()
        assert body["intent"] == "emergency"
        assert "119" in body["replies"][0]["text"]
        assert "Coba lagi" in body["replies"][1]["text"]


async def test_rasa_down_answers_self_harm_with_the_caring_reply(redis_prefix: str) -> None:
    app = create_app(settings_for("http://127.0.0.1:1", redis_prefix))
    async with TestClient(TestServer(app)) as client:
        response = await client.post(
            "/api/v1/chat", json={"user_id": "u1", "text": "capek hidup, pengen self harm lg"}
        )
        body = await response.json()
        assert body["intent"] == "emergency"
        first = body["replies"][0]["text"]
        assert "119" in first and "healing119.id" in first
        assert "PENTING" not in first


async def test_slow_rasa_times_out_instead_of_hanging(
    gateway: Client, fake_rasa: tuple[FakeRasa, str]
) -> None:
    fake_rasa[0].mode = "slow"
    started = time.monotonic()
    response = await gateway.post("/api/v1/chat", json={"user_id": "u1", "text": "halo"})
    assert response.status == 503
    assert time.monotonic() - started < 3  # timeout is 0.5 s in these settings


async def test_rasa_failure_or_garbage_gets_503(
    gateway: Client, fake_rasa: tuple[FakeRasa, str]
) -> None:
    for mode in ("error", "garbage"):
        fake_rasa[0].mode = mode
        response = await gateway.post("/api/v1/chat", json={"user_id": "u1", "text": "halo"})
        assert response.status == 503, mode
        assert "Coba lagi" in (await response.json())["replies"][-1]["text"]


async def test_unknown_route_and_wrong_method_get_json_errors(gateway: Client) -> None:
    missing = await gateway.get("/api/v1/nope")
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "not_found"
    wrong = await gateway.get("/api/v1/chat")
    assert wrong.status == 405
