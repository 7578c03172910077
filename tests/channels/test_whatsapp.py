"""WhatsApp Cloud API: what a citizen on WhatsApp would notice, against a fake Graph API."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.app import ConfigurationError, create_app
from bot.channels.conversation import user_key
from tests.channels.conftest import (
    PHONE_ID,
    WA_VERIFY,
    EchoRasa,
    Stack,
    channel_settings,
    until_async,
)
from tests.fakes import graph_api as wa
from tests.fakes.graph_api import FakeGraph

USER = "6281234567890"


def envelope(*messages: dict[str, Any], statuses: list[dict[str, Any]] | None = None) -> Any:
    return wa.envelope(messages=list(messages), statuses=statuses or [], phone_number_id=PHONE_ID)


def bodies_to(graph: FakeGraph, wa_id: str = USER) -> list[dict[str, Any]]:
    return graph.messages_to(wa_id)


async def pause(seconds: float = 0.3) -> None:
    await asyncio.sleep(seconds)


async def test_the_verification_handshake(stack: Stack) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": WA_VERIFY, "hub.challenge": "1158201444"}
    response = await stack.client.get("/webhooks/whatsapp", params=query)
    assert response.status == 200 and await response.text() == "1158201444"
    wrong = {**query, "hub.verify_token": "salah"}
    assert (await stack.client.get("/webhooks/whatsapp", params=wrong)).status == 403
    assert (await stack.client.get("/webhooks/whatsapp")).status == 400


async def test_posts_need_a_valid_signature(stack: Stack) -> None:
    payload = envelope(wa.text_message("wamid.A1", USER, "halo"))
    assert await stack.whatsapp_payload(payload, signature=None) == 401
    assert await stack.whatsapp_payload(payload, signature="sha256=" + "0" * 64) == 403
    assert await stack.whatsapp_payload(payload, signature="garbage") == 403
    await pause(0.1)
    assert stack.rasa.requests == []
    assert await stack.whatsapp_payload(payload) == 200


async def test_a_text_is_marked_read_and_answered(stack: Stack) -> None:
    await stack.whatsapp_payload(envelope(wa.text_message("wamid.A2", USER, "gmn cara cegah dbd")))
    await stack.graph.wait_for_messages(1)
    body = bodies_to(stack.graph)[0]
    assert body["type"] == "text" and body["text"]["body"] == "Jawaban: gmn cara cegah dbd"
    assert [r["message_id"] for r in stack.graph.read_receipts] == ["wamid.A2"]
    request = stack.rasa.requests[0]
    assert request["sender"] == f"wa:{USER}"
    assert request["metadata"] == {"channel": "whatsapp", "locale": "id"}


async def test_a_batched_payload_answers_every_message_and_records_statuses(
    stack: Stack, redis: Redis, redis_prefix: str
) -> None:
    other = "6289876543210"
    first = envelope(
        wa.text_message("wamid.B1", USER, "satu"),
        wa.text_message("wamid.B2", other, "dua"),
        statuses=[wa.status_update("wamid.OUT1", USER, "delivered")],
    )
    second = envelope(wa.text_message("wamid.B3", USER, "tiga"))
    assert await stack.whatsapp_payload(wa.batch(first, second)) == 200
    await stack.graph.wait_for_messages(3)
    assert [b["text"]["body"] for b in bodies_to(stack.graph)] == ["Jawaban: satu", "Jawaban: tiga"]
    assert [b["text"]["body"] for b in bodies_to(stack.graph, other)] == ["Jawaban: dua"]
    assert await redis.get(f"{redis_prefix}wa:status:wamid.OUT1") == b"delivered"


async def test_location_button_and_list_replies_reach_the_assistant(stack: Stack) -> None:
    await stack.whatsapp_payload(
        envelope(
            wa.location_message("wamid.C1", USER, -4.7368, 123.0985),
            wa.button_reply_message("wamid.C2", USER, "/affirm", "Ya"),
            wa.list_reply_message("wamid.C3", USER, '/choose{"n": 2}', "Desa Nomor 2"),
        )
    )
    await stack.graph.wait_for_messages(3)
    texts = stack.rasa.texts_from(f"wa:{USER}")
    assert texts == [
        '/share_location{"lat": -4.7368, "lon": 123.0985}',
        "/affirm",
        '/choose{"n": 2}',
    ]


async def test_menus_are_buttons_lists_or_numbered_text_whichever_fits(stack: Stack) -> None:
    await stack.whatsapp_payload(envelope(wa.text_message("wamid.D1", USER, "pakai tombol")))
    await stack.graph.wait_for_messages(1)
    buttons = bodies_to(stack.graph)[0]["interactive"]
    assert buttons["type"] == "button"
    assert [b["reply"]["title"] for b in buttons["action"]["buttons"]] == ["Ya", "Tidak"]

    await stack.whatsapp_payload(envelope(wa.text_message("wamid.D2", USER, "daftar desa")))
    await stack.graph.wait_for_messages(2)
    listing = bodies_to(stack.graph)[1]["interactive"]
    assert listing["type"] == "list"
    assert len(listing["action"]["sections"][0]["rows"]) == 5

    await stack.whatsapp_payload(envelope(wa.text_message("wamid.D3", USER, "banyak pilihan")))
    await stack.graph.wait_for_messages(3)
    numbered = bodies_to(stack.graph)[2]
    assert numbered["type"] == "text"
    assert "12. Kelurahan dengan nama panjang 11" in numbered["text"]["body"]

    # Answering the numbered menu with a number picks that choice.
    await stack.whatsapp_payload(envelope(wa.text_message("wamid.D4", USER, "3")))
    await stack.graph.wait_for_messages(4)
    assert stack.rasa.texts_from(f"wa:{USER}")[-1] == "/p2"


async def test_outside_the_24_hour_window_only_the_template_is_sent(stack: Stack) -> None:
    old = wa.text_message("wamid.E1", USER, "halo", timestamp=int(time.time()) - 25 * 3600)
    await stack.whatsapp_payload(envelope(old))
    await stack.graph.wait_for_messages(1)
    await pause()
    sent = bodies_to(stack.graph)
    assert len(sent) == 1 and sent[0]["type"] == "template"
    assert sent[0]["template"]["name"] == "kawan_sehat_sapaan"


async def test_an_old_message_answered_late_does_not_close_a_newer_window(stack: Stack) -> None:
    now = int(time.time())
    await stack.whatsapp_payload(envelope(wa.text_message("wamid.N1", USER, "baru", now)))
    await stack.graph.wait_for_messages(1)
    # A message from two days ago arrives late (Meta redelivered it, or it was replayed).
    await stack.whatsapp_payload(
        envelope(wa.text_message("wamid.N0", USER, "lama", now - 48 * 3600))
    )
    await stack.graph.wait_for_messages(2)
    await pause()
    sent = bodies_to(stack.graph)
    assert [body["type"] for body in sent] == ["text", "text"]  # the window is still open


async def test_throughput_errors_and_server_errors_are_retried(stack: Stack) -> None:
    stack.graph.throughput_limit_next(count=2)
    await stack.whatsapp_payload(envelope(wa.text_message("wamid.F1", USER, "satu")))
    await stack.graph.wait_for_messages(1, timeout=10)
    stack.graph.server_error_next(count=2)
    await stack.whatsapp_payload(envelope(wa.text_message("wamid.F2", USER, "dua")))
    await stack.graph.wait_for_messages(2, timeout=10)
    stack.graph.pair_limit_next(count=1)
    await stack.whatsapp_payload(envelope(wa.text_message("wamid.F3", USER, "tiga")))
    await stack.graph.wait_for_messages(3, timeout=10)
    assert [b["text"]["body"] for b in bodies_to(stack.graph)] == [
        "Jawaban: satu",
        "Jawaban: dua",
        "Jawaban: tiga",
    ]


async def test_an_undeliverable_number_is_marked_unreachable(
    stack: Stack, redis: Redis, redis_prefix: str
) -> None:
    stack.graph.undeliverable_to.add(USER)
    await stack.whatsapp_payload(envelope(wa.text_message("wamid.G1", USER, "halo")))
    await until_async(lambda: redis.exists(f"{redis_prefix}unreachable:{user_key(f'wa:{USER}')}"))
    other = "6281111111111"
    failed = wa.status_update(
        "wamid.OUT2", other, "failed", errors=[{"code": 131026, "title": "Message Undeliverable"}]
    )
    await stack.whatsapp_payload(envelope(statuses=[failed]))
    assert await redis.get(f"{redis_prefix}unreachable:{user_key(f'wa:{other}')}") is not None
    # Phone numbers are personal data: no key name carries one.
    names = [k.decode() async for k in redis.scan_iter(match=f"{redis_prefix}*")]
    assert names and not any(USER in name or other in name for name in names)


async def test_a_duplicate_wamid_is_answered_once(stack: Stack) -> None:
    payload = envelope(wa.text_message("wamid.H1", USER, "halo"))
    for _ in range(3):
        assert await stack.whatsapp_payload(payload) == 200
    await stack.graph.wait_for_messages(1)
    await pause()
    assert len(bodies_to(stack.graph)) == 1


async def test_media_gets_a_polite_reply_and_reactions_are_ignored(stack: Stack) -> None:
    await stack.whatsapp_payload(
        envelope(
            wa.image_message("wamid.I1", USER),
            wa.audio_message("wamid.I2", USER),
            wa.sticker_message("wamid.I3", USER),
            wa.unsupported_message("wamid.I4", USER),
        )
    )
    await stack.graph.wait_for_messages(4)
    await pause()
    assert all("pesan teks" in b["text"]["body"] for b in bodies_to(stack.graph))
    assert len(bodies_to(stack.graph)) == 4
    assert stack.rasa.requests == []


async def test_when_rasa_is_down_the_message_is_kept_and_answered_later(stack: Stack) -> None:
    stack.rasa.mode = "down"
    await stack.whatsapp_payload(envelope(wa.text_message("wamid.J1", USER, "halo")))
    await stack.graph.wait_for_messages(1)
    assert "Coba lagi sebentar" in bodies_to(stack.graph)[0]["text"]["body"]
    stack.rasa.mode = "ok"
    await stack.graph.wait_for_messages(2, timeout=10)
    assert bodies_to(stack.graph)[1]["text"]["body"] == "Jawaban: halo"


async def test_a_payload_for_another_number_or_of_another_kind_is_ignored(stack: Stack) -> None:
    foreign = wa.envelope(
        messages=[wa.text_message("wamid.K1", USER, "halo")], phone_number_id="999"
    )
    assert await stack.whatsapp_payload(foreign) == 200
    assert await stack.whatsapp_payload({"object": "page", "entry": []}) == 200
    assert await stack.whatsapp_payload([1, 2, 3]) == 200
    await pause()
    assert stack.rasa.requests == []


def test_the_service_refuses_to_start_without_the_app_secret(
    rasa: tuple[EchoRasa, str], redis_prefix: str
) -> None:
    settings = channel_settings(
        rasa[1], "http://127.0.0.1:9", "http://127.0.0.1:9", redis_prefix, WHATSAPP_APP_SECRET=None
    )
    with pytest.raises(ConfigurationError, match="WHATSAPP_APP_SECRET"):
        create_app(settings)
