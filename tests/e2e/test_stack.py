"""The whole assistant: Rasa 3.6 (its own Python 3.10 environment) with the trained
model, the rasa-sdk 3.21 action server and the gateway, on real Redis.

This is the proof that rasa-sdk 3.21 answers Rasa 3.6's action-server protocol.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from redis.asyncio import Redis

from actions.content import ContentStore
from scripts.stack import MODEL, Stack, free_port
from tests.conftest import TEST_REDIS_URL

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: `make test` trains it before this test")
    running = Stack(
        redis_url=TEST_REDIS_URL,
        redis_prefix=f"kstest:{uuid.uuid4().hex[:8]}:",
        gateway_port=free_port(),
        rasa_port=free_port(),
        actions_port=free_port(),
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()
        asyncio.run(_clean(running.redis_prefix))


async def _clean(prefix: str) -> None:
    client = Redis.from_url(TEST_REDIS_URL)
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def integrator(stack: Stack) -> dict[str, str]:
    """An integrator's headers (KS_API_KEYS): such callers choose user_id."""
    return {"Content-Type": "application/json", "Authorization": f"Bearer {stack.api_key}"}


def chat(stack: Stack, text: str, user: str | None = None) -> tuple[int, dict[str, Any]]:
    body = json.dumps({"user_id": user or uuid.uuid4().hex, "text": text}).encode()
    request = urllib.request.Request(
        f"{stack.chat_url}api/v1/chat", data=body, headers=integrator(stack)
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_greeting_shows_the_menu(stack: Stack) -> None:
    status, body = chat(stack, "halo min")
    assert status == 200
    assert body["intent"] == "greet"
    assert "Kawan Sehat" in body["replies"][0]["text"]
    assert any(b["payload"] == "/imunisasi.jadwal" for b in body["replies"][0]["buttons"])


def test_faq_answer_comes_from_the_action_server_with_its_source(stack: Stack) -> None:
    status, body = chat(stack, "jadwal imunisasi bayi lengkap apa aja ya")
    assert status == 200
    assert body["intent"] == "imunisasi.jadwal"
    assert body["faq_id"] == "imunisasi.jadwal"
    assert 0 < body["confidence"] <= 1
    [reply] = body["replies"]
    assert "Sumber:" in reply["text"]
    assert reply["buttons"], "related topics are offered as buttons"


def test_related_topic_button_answers_that_topic(stack: Stack) -> None:
    user = uuid.uuid4().hex
    _, menu = chat(stack, "halo", user)
    button = next(b for b in menu["replies"][0]["buttons"] if b["payload"] == "/imunisasi.jadwal")
    status, body = chat(stack, button["payload"], user)
    assert status == 200
    assert body["faq_id"] == "imunisasi.jadwal"


def test_danger_sign_gets_the_emergency_reply_first(stack: Stack) -> None:
    status, body = chat(stack, "anak sy kejang2 dari tadi, abis imunisasi kemarin")
    assert status == 200
    assert body["intent"] == "emergency"
    first = body["replies"][0]["text"]
    assert "119" in first and "SEKARANG" in first


def test_says_it_is_automated_when_asked(stack: Stack) -> None:
    _, body = chat(stack, "kamu robot ya?")
    assert body["intent"] == "bot_challenge"
    assert "otomatis" in body["replies"][0]["text"]


def test_content_edit_takes_effect_without_retraining(stack: Stack) -> None:
    async def edit() -> None:
        client = Redis.from_url(TEST_REDIS_URL)
        store = ContentStore(client, stack.redis_prefix)
        entry = await store.get("ptm.cerdik")
        assert entry is not None
        await store.put(entry.model_copy(update={"answer": entry.answer + " Uji suntingan."}))
        await client.aclose()

    asyncio.run(edit())
    _, body = chat(stack, "cerdik itu apa")
    assert body["faq_id"] == "ptm.cerdik"
    assert "Uji suntingan." in body["replies"][0]["text"]


def test_conversation_is_kept_per_user(stack: Stack) -> None:
    user = uuid.uuid4().hex
    chat(stack, "halo", user)
    status, body = chat(stack, "makasih ya", user)
    assert status == 200
    assert body["intent"] == "thanks"


def test_ambiguous_village_then_district_then_my_posyandu(stack: Stack) -> None:
    user = uuid.uuid4().hex
    _, asked = chat(stack, "posyandu di desa lambale kapan?", user)
    assert asked["intent"] == "ask_posyandu_schedule"
    assert asked["replies"][0]["text"] == "Ada 2 desa/kelurahan bernama Lambale. Yang mana?"
    choice = asked["replies"][0]["buttons"][1]
    assert choice["title"] == "Kec. Kulisusu Barat, Kabupaten Buton Utara"
    _, listed = chat(stack, choice["payload"], user)
    text = listed["replies"][0]["text"]
    assert text.startswith("Posyandu di Lambale, Kec. Kulisusu Barat")
    assert "WITA" in text
    save = listed["replies"][0]["buttons"][0]
    _, saved = chat(stack, save["payload"], user)
    assert saved["replies"][0]["text"].startswith("Tersimpan:")
    _, mine = chat(stack, "kapan posyandu saya?", user)
    assert mine["intent"] == "ask_my_posyandu"
    assert mine["replies"][0]["text"].startswith("Posyandu Anda:")


def test_location_finds_the_nearest_posyandu(stack: Stack) -> None:
    body = json.dumps({"user_id": "loc-user", "location": {"lat": -4.6175, "lon": 123.0084}})
    request = urllib.request.Request(
        f"{stack.chat_url}api/v1/chat", data=body.encode(), headers=integrator(stack)
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        reply = json.loads(response.read())
    assert reply["intent"] == "share_location"
    assert reply["replies"][0]["text"].startswith("Posyandu terdekat dari lokasi Anda:")
    assert reply["replies"][0]["text"].count(" km)") == 3


def status_of(url: str, method: str = "GET", headers: dict[str, str] | None = None) -> int:
    data = b"{}" if method == "POST" else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_rasa_refuses_callers_without_the_shared_secret(stack: Stack) -> None:
    rasa = f"http://127.0.0.1:{stack.rasa_port}"
    webhook = f"{rasa}/webhooks/gateway/webhook"
    assert status_of(webhook, "POST") == 401
    assert status_of(webhook, "POST", {"Authorization": "Bearer wrong"}) == 403
    assert status_of(f"{rasa}/webhooks/gateway/") == 401
    # Rasa's own API (conversation histories, tracker writes, PUT /model) is off.
    assert status_of(f"{rasa}/conversations/tg:1/tracker") == 404
    assert status_of(f"{rasa}/model/parse", "POST") == 404
    # The model route of our channel answers only with the retrain worker's token.
    model = f"{rasa}/webhooks/gateway/model"
    assert status_of(model, "PUT") == 401
    assert status_of(model, "PUT", {"Authorization": f"Bearer {stack.tokens['RASA_TOKEN']}"}) == 403
    assert status_of(model, "GET", {"Authorization": f"Bearer {stack.rasa_api_token}"}) == 200


def test_the_action_server_refuses_callers_without_the_shared_secret(stack: Stack) -> None:
    webhook = f"http://127.0.0.1:{stack.actions_port}/webhook"
    assert status_of(webhook, "POST") == 401
    assert status_of(webhook, "POST", {"Authorization": "Bearer wrong"}) == 403


def test_a_long_conversation_keeps_its_state(stack: Stack) -> None:
    """The bounded tracker cuts old turns; what the user saved stays."""
    user = uuid.uuid4().hex
    _, asked = chat(stack, "posyandu di desa lambale kapan?", user)
    _, listed = chat(stack, asked["replies"][0]["buttons"][1]["payload"], user)
    chat(stack, listed["replies"][0]["buttons"][0]["payload"], user)
    for number in range(40):  # about 200 events: the window (50) has been cut many times
        chat(stack, "makasih" if number % 2 else "halo", user)
    _, mine = chat(stack, "kapan posyandu saya?", user)
    assert mine["replies"][0]["text"].startswith("Posyandu Anda:")
