"""Web chat: STOP, MULAI, "data saya apa saja?" and "hapus data saya" through the real
gateway (chat API, session cookies) and the real actions; then nothing of the user is left."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from actions.datarights import say
from actions.inbox import UnansweredInbox
from actions.optout import opt_out_key
from actions.pseudonym import user_key
from bot.app import create_app
from tests.datarights.conftest import (
    ScriptedRasa,
    assert_untouched,
    needles,
    residue,
    save_posyandu,
    snapshot,
)
from tests.gateway.conftest import settings_for

Client = TestClient[Any, Any]


@pytest.fixture
async def browsers(
    scripted: tuple[ScriptedRasa, str], redis_prefix: str, redis: Redis
) -> AsyncIterator[tuple[Client, Client]]:
    """Two web page visitors of one gateway, each with their own cookie jar."""
    app = create_app(settings_for(scripted[1], redis_prefix, RASA_TIMEOUT=5.0))
    first = TestClient(TestServer(app))
    await first.start_server()
    second = TestClient(first.server)
    yield first, second
    await second.close()
    await first.close()


async def say_to(client: Client, text: str, status: int = 200) -> dict[str, Any]:
    response = await client.post("/api/v1/chat", json={"text": text})
    assert response.status == status, await response.text()
    body: dict[str, Any] = await response.json()
    return body


def texts(body: dict[str, Any]) -> list[str]:
    return [reply["text"] for reply in body["replies"]]


async def introduce(client: Client, rasa: ScriptedRasa, secret: str) -> str:
    """A visitor who chats, asks something unanswerable and saves a Posyandu; their sender id."""
    greeting = await say_to(client, "halo")
    assert greeting["replies"][0]["buttons"]
    sender: str = rasa.requests[-1]["sender"]
    await say_to(client, f"krim jerawat {secret} aman buat bumil?")
    await save_posyandu(rasa.redis, rasa.prefix, sender)
    return sender


async def test_erasure_on_the_web_leaves_nothing_but_the_marker(
    browsers: tuple[Client, Client], scripted: tuple[ScriptedRasa, str], redis: Redis
) -> None:
    ani, budi = browsers
    rasa, prefix = scripted[0], scripted[0].prefix
    ani_id = await introduce(ani, rasa, "rahasia-ani-7731")
    budi_id = await introduce(budi, rasa, "rahasia-budi-4410")
    assert ani_id != budi_id and ani_id.startswith("web:")

    listed = await say_to(ani, "data saya apa saja?")
    [reply] = listed["replies"]
    assert reply["text"].split("\n")[1:-1] == [
        "• " + say("inventory", "lines", "tracker_web"),
        "• " + say("inventory", "lines", "posyandu"),
        "• " + say("inventory", "lines", "unanswered", count=1),
        "• " + say("inventory", "lines", "web_buttons"),
        "• " + say("inventory", "lines", "transient_web"),
    ]

    asked = await say_to(ani, "hapus data saya")
    assert [b["title"] for b in asked["replies"][0]["buttons"]] == ["Ya, hapus semua", "Batal"]
    before = await snapshot(redis, prefix)
    kinds = {
        key[len(prefix) :].split(":")[0] for key in await residue(redis, prefix, needles(ani_id))
    }
    assert kinds >= {"tracker", "pos", "web", "rl", "inbox"}
    done = await say_to(ani, "/confirm_delete_my_data")
    assert texts(done) == [say("erase", "done")]

    left = await residue(redis, prefix, needles(ani_id, "rahasia-ani-7731"))
    marker = opt_out_key(prefix, user_key(ani_id))
    assert left == {marker: user_key(ani_id)}
    assert await redis.get(marker) == b"1"
    assert_untouched(before, await snapshot(redis, prefix), needles(budi_id), needles(ani_id))
    assert len(await UnansweredInbox(redis, prefix).latest()) == 1  # Budi's question

    # The conversation starts afresh, and "data saya" now says so, truthfully.
    await say_to(ani, "halo")
    again = await say_to(ani, "data saya apa saja?")
    assert again["replies"][0]["text"].split("\n")[1:-1] == [
        "• " + say("inventory", "lines", "tracker_web"),
        "• " + say("inventory", "lines", "web_buttons"),
        "• " + say("inventory", "lines", "transient_web"),
        "• " + say("inventory", "lines", "optout"),
    ]


async def test_nothing_is_erased_without_the_confirmation(
    browsers: tuple[Client, Client], scripted: tuple[ScriptedRasa, str], redis: Redis
) -> None:
    ani, _ = browsers
    rasa, prefix = scripted[0], scripted[0].prefix
    ani_id = await introduce(ani, rasa, "rahasia-ani-1")
    await say_to(ani, "hapus data saya")
    cancelled = await say_to(ani, "/cancel_delete_my_data")
    assert texts(cancelled) == ["Baik, tidak ada yang dihapus."]
    # The confirm button, pressed later without the question just before it.
    late = await say_to(ani, "/confirm_delete_my_data")
    assert texts(late) == [say("erase", "not_pending")]
    kept = await residue(redis, prefix, needles(ani_id))
    assert any(":pos:mine:" in key for key in kept)
    assert not await redis.exists(opt_out_key(prefix, user_key(ani_id)))
    # Words after the question are not the button.
    await say_to(ani, "hapus data saya")
    await say_to(ani, "ya hapus semua")
    assert any(":pos:mine:" in key for key in await residue(redis, prefix, needles(ani_id)))


async def test_stop_and_mulai_on_the_web_without_rasa(
    browsers: tuple[Client, Client], scripted: tuple[ScriptedRasa, str], redis: Redis
) -> None:
    ani, _ = browsers
    rasa, prefix = scripted[0], scripted[0].prefix
    await say_to(ani, "halo")
    ani_id = rasa.requests[-1]["sender"]
    marker = opt_out_key(prefix, user_key(ani_id))
    asked = len(rasa.requests)

    stopped = await say_to(ani, "STOP!")
    assert texts(stopped) == [say("stop", "nothing")]  # the web chat has no subscriptions
    assert (stopped["intent"], stopped["confidence"], stopped["faq_id"]) == (
        "unsubscribe",
        1.0,
        None,
    )
    assert await redis.get(marker) == b"1"
    assert texts(await say_to(ani, "Berhenti langganan")) == [say("stop", "nothing")]
    assert texts(await say_to(ani, "mulai")) == [say("start", "resumed")]
    assert not await redis.exists(marker)
    assert len(rasa.requests) == asked  # none of these reached Rasa
    # Not stopped, "mulai" is for the assistant (the menu), as before.
    assert texts(await say_to(ani, "MULAI")) == ["Jawaban: MULAI"]
    assert len(rasa.requests) == asked + 1

    await say_to(ani, "stop dulu ya aku mau tanya")
    await say_to(ani, "berhenti merokok gimana")
    assert rasa.texts_from(ani_id)[-2:] == ["stop dulu ya aku mau tanya", "berhenti merokok gimana"]
    assert not await redis.exists(marker)


async def test_an_erasure_redis_refuses_is_not_claimed(
    browsers: tuple[Client, Client],
    scripted: tuple[ScriptedRasa, str],
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ani, _ = browsers
    rasa, prefix = scripted[0], scripted[0].prefix
    ani_id = await introduce(ani, rasa, "rahasia-ani-2")
    await say_to(ani, "hapus data saya")

    async def refused(*_: Any, **__: Any) -> None:
        raise RedisConnectionError("down")

    monkeypatch.setattr("bot.datarights.erase", refused)
    body = await say_to(ani, "/confirm_delete_my_data", status=503)
    assert say("erase", "done") not in texts(body)
    assert any(":pos:mine:" in key for key in await residue(redis, prefix, needles(ani_id)))
