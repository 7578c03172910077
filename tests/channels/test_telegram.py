"""Telegram: what a citizen on Telegram would notice, against a fake Bot API server."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.channels.conversation import user_key
from bot.channels.setup import CHANNELS
from tests.channels.conftest import TG_SECRET, EchoRasa, Stack, start_stack, until, until_async
from tests.fakes import telegram_api as tg
from tests.fakes.telegram_api import FakeTelegram

CHAT = 555001


def replies(stack: Stack, chat: int = CHAT) -> list[str]:
    return stack.telegram.sent_to(chat)


async def test_start_up_registers_the_webhook_with_its_secret_and_the_command_menu(
    stack: Stack,
) -> None:
    methods = [call.method for call in stack.telegram.calls]
    assert "setWebhook" in methods and "setMyCommands" in methods
    webhook = next(c.params for c in stack.telegram.calls if c.method == "setWebhook")
    assert webhook["url"] == "https://kawan.example.id/webhooks/telegram"
    assert webhook["secret_token"] == TG_SECRET
    commands = next(c.params for c in stack.telegram.calls if c.method == "setMyCommands")
    assert {c["command"] for c in commands["commands"]} >= {"start", "menu", "posyandu"}


async def test_a_text_message_is_answered_in_the_same_chat(stack: Stack) -> None:
    assert await stack.telegram_update(tg.text_update(1, CHAT, "jadwal imunisasi bayi")) == 200
    await stack.telegram.wait_for_sent(1)
    assert replies(stack) == ["Jawaban: jadwal imunisasi bayi"]
    request = stack.rasa.requests[0]
    assert request["sender"] == f"tg:{CHAT}"
    assert request["metadata"] == {"channel": "telegram", "locale": "id"}


async def test_the_secret_token_is_required_and_must_match(stack: Stack) -> None:
    update = tg.text_update(2, CHAT, "halo")
    assert await stack.telegram_update(update, secret=None) == 401
    assert await stack.telegram_update(update, secret="salah") == 403
    assert await stack.telegram_update(update, secret=TG_SECRET + "x") == 403
    assert stack.rasa.requests == []


async def test_start_with_a_deep_link_opens_that_topic(stack: Stack) -> None:
    await stack.telegram_update(tg.command_update(3, CHAT, "/start", "imunisasi_jadwal"))
    await stack.telegram_update(tg.command_update(4, CHAT + 1, "/start"))
    await stack.telegram_update(tg.command_update(5, CHAT + 2, "/start", "tidak_dikenal"))
    await stack.telegram.wait_for_sent(3)
    assert stack.rasa.texts_from(f"tg:{CHAT}") == ["/imunisasi.jadwal"]
    assert stack.rasa.texts_from(f"tg:{CHAT + 1}") == ["/greet"]
    assert stack.rasa.texts_from(f"tg:{CHAT + 2}") == ["/greet"]


async def test_a_shared_location_reaches_the_assistant_as_coordinates(stack: Stack) -> None:
    await stack.telegram_update(tg.location_update(6, CHAT, -4.7368, 123.0985))
    await stack.telegram.wait_for_sent(1)
    text = stack.rasa.requests[0]["message"]
    assert text.startswith("/share_location")
    assert json.loads(text[len("/share_location") :]) == {"lat": -4.7368, "lon": 123.0985}


async def test_buttons_become_an_inline_keyboard_and_a_press_is_answered(stack: Stack) -> None:
    await stack.telegram_update(tg.text_update(7, CHAT, "pakai tombol"))
    sent = await stack.telegram.wait_for_sent(1)
    keyboard = sent[0]["reply_markup"]["inline_keyboard"]
    assert [[b["text"] for b in row] for row in keyboard] == [["Ya"], ["Tidak"]]
    assert keyboard[0][0]["callback_data"] == "/affirm"

    await stack.telegram_update(tg.callback_update(8, CHAT, "/affirm", callback_id="cb-42"))
    await stack.telegram.wait_for_sent(2)
    answered = [c.params for c in stack.telegram.calls if c.method == "answerCallbackQuery"]
    assert answered and answered[0]["callback_query_id"] == "cb-42"
    assert stack.rasa.texts_from(f"tg:{CHAT}")[-1] == "/affirm"


async def test_a_payload_longer_than_64_bytes_still_works_as_a_button(stack: Stack) -> None:
    await stack.telegram_update(tg.text_update(9, CHAT, "minta kode desa"))
    sent = await stack.telegram.wait_for_sent(1)
    data = sent[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert len(data.encode()) <= 64
    await stack.telegram_update(tg.callback_update(10, CHAT, data))
    await stack.telegram.wait_for_sent(2)
    assert stack.rasa.texts_from(f"tg:{CHAT}")[-1].startswith('/choose_village{"village_code"')


async def test_an_edited_message_is_answered_again(stack: Stack) -> None:
    await stack.telegram_update(tg.text_update(11, CHAT, "jadwal posyndu"))
    await stack.telegram_update(tg.edited_text_update(12, CHAT, "jadwal posyandu"))
    await stack.telegram.wait_for_sent(2)
    assert stack.rasa.texts_from(f"tg:{CHAT}") == ["jadwal posyndu", "jadwal posyandu"]


async def test_stickers_voice_and_photos_get_a_polite_reply_without_the_assistant(
    stack: Stack,
) -> None:
    await stack.telegram_update(tg.sticker_update(13, CHAT))
    await stack.telegram_update(tg.voice_update(14, CHAT))
    await stack.telegram_update(tg.photo_update(15, CHAT))
    await stack.telegram.wait_for_sent(3)
    assert all("pesan teks" in text for text in replies(stack))
    assert stack.rasa.requests == []


async def test_a_long_reply_is_split_below_4096_on_sentence_boundaries(stack: Stack) -> None:
    await stack.telegram_update(tg.text_update(16, CHAT, "jawaban panjang"))
    await stack.telegram.wait_for_sent(2)
    parts = replies(stack)
    assert len(parts) == 2
    assert all(len(part) < 4096 for part in parts)
    assert all(part.endswith(".") for part in parts)
    assert "".join(parts).replace(".I", ". I").count("kesehatan") == 80


async def test_a_redelivered_update_is_answered_once(stack: Stack) -> None:
    update = tg.text_update(17, CHAT, "halo")
    for _ in range(3):
        assert await stack.telegram_update(update) == 200
    await stack.telegram.wait_for_sent(1)
    inbox = stack.client.app[CHANNELS].inbox

    async def nothing_pending() -> bool:
        return await inbox.pending_count() == 0

    await until_async(nothing_pending)
    assert len(stack.rasa.requests) == 1
    assert replies(stack) == ["Jawaban: halo"]


async def test_messages_of_one_user_are_answered_in_order(stack: Stack) -> None:
    stack.rasa.delay = 0.05
    for i in range(6):
        await stack.telegram_update(tg.text_update(100 + i, CHAT, f"pesan {i}"))
    await stack.telegram.wait_for_sent(6)
    assert replies(stack) == [f"Jawaban: pesan {i}" for i in range(6)]


async def test_429_retry_after_is_honoured_and_the_message_arrives(stack: Stack) -> None:
    stack.telegram.rate_limit_next("sendMessage", retry_after=1)
    started = time.monotonic()
    await stack.telegram_update(tg.text_update(18, CHAT, "halo"))
    await stack.telegram.wait_for_sent(1, timeout=10)
    assert time.monotonic() - started >= 1.0
    assert replies(stack) == ["Jawaban: halo"]


async def test_server_errors_are_retried(stack: Stack) -> None:
    stack.telegram.fail_next("sendMessage", 502, "Bad Gateway", count=2)
    await stack.telegram_update(tg.text_update(19, CHAT, "halo"))
    await stack.telegram.wait_for_sent(1, timeout=10)
    assert replies(stack) == ["Jawaban: halo"]


async def test_a_user_who_blocked_the_bot_is_marked_unreachable(
    stack: Stack, redis: Redis, redis_prefix: str
) -> None:
    stack.telegram.blocked_chats.add(CHAT)
    await stack.telegram_update(tg.text_update(20, CHAT, "halo"))
    await until(lambda: any(c.status == 403 for c in stack.telegram.calls))
    key = f"{redis_prefix}unreachable:{user_key(f'tg:{CHAT}')}"
    await until_async(lambda: redis.exists(key))
    assert 0 < await redis.ttl(key) <= 90 * 24 * 3600  # retention: not kept for ever
    # Telegram also tells us when the user blocks the bot.
    await stack.telegram_update(tg.my_chat_member_update(21, CHAT + 5, status="kicked"))
    other = f"{redis_prefix}unreachable:{user_key(f'tg:{CHAT + 5}')}"
    await until_async(lambda: redis.exists(other))
    # Chat ids are personal data: no key name carries one.
    names = [k.decode() async for k in redis.scan_iter(match=f"{redis_prefix}*")]
    assert names and not any(str(CHAT) in name for name in names)


async def test_when_rasa_is_down_one_polite_notice_then_the_answer_when_it_returns(
    stack: Stack,
) -> None:
    stack.rasa.mode = "down"
    await stack.telegram_update(tg.text_update(22, CHAT, "jadwal imunisasi"))
    await stack.telegram_update(tg.text_update(23, CHAT, "halo?"))
    await stack.telegram.wait_for_sent(1)
    await asyncio.sleep(0.3)
    assert len(replies(stack)) == 1 and "Coba lagi sebentar" in replies(stack)[0]
    stack.rasa.mode = "ok"
    await stack.telegram.wait_for_sent(3, timeout=10)
    assert replies(stack)[1:] == ["Jawaban: jadwal imunisasi", "Jawaban: halo?"]


async def test_a_danger_sign_gets_119_even_while_rasa_is_down(stack: Stack) -> None:
    stack.rasa.mode = "down"
    await stack.telegram_update(
        tg.text_update(24, CHAT, "bumil keluar darah banyak dari jalan lahir")
    )
    await stack.telegram.wait_for_sent(2)
    assert "119" in replies(stack)[0]


async def test_a_restart_between_acknowledging_and_replying_loses_nothing(
    rasa: tuple[EchoRasa, str],
    telegram_api: tuple[FakeTelegram, str],
    graph_api: Any,
    redis_prefix: str,
    redis: Redis,
) -> None:
    fake_rasa = rasa[0]
    fake_rasa.delay = 30  # the first gateway dies while Rasa is thinking
    first = await start_stack(rasa, telegram_api, graph_api, redis_prefix)
    assert await first.telegram_update(tg.text_update(25, CHAT, "jangan hilang")) == 200
    await until(lambda: len(fake_rasa.requests) == 1)
    await first.client.close()
    assert telegram_api[0].sent == []

    fake_rasa.delay = 0
    second = await start_stack(rasa, telegram_api, graph_api, redis_prefix)
    try:
        await telegram_api[0].wait_for_sent(1, timeout=10)
        assert telegram_api[0].sent_to(CHAT) == ["Jawaban: jangan hilang"]
    finally:
        await second.client.close()


async def test_a_flooding_user_is_slowed_with_one_notice_and_others_are_not(
    rasa: tuple[EchoRasa, str],
    telegram_api: tuple[FakeTelegram, str],
    graph_api: Any,
    redis_prefix: str,
    redis: Redis,
) -> None:
    stack = await start_stack(
        rasa, telegram_api, graph_api, redis_prefix, KS_USER_MESSAGES_PER_MINUTE=5
    )
    try:
        for i in range(12):
            await stack.telegram_update(tg.text_update(200 + i, CHAT, f"spam {i}"))
        await stack.telegram_update(tg.text_update(300, CHAT + 9, "halo"))
        await stack.telegram.wait_for_sent(7)
        await asyncio.sleep(0.3)
        texts = replies(stack)
        assert texts[:5] == [f"Jawaban: spam {i}" for i in range(5)]
        assert len(texts) == 6 and "Tunggu sebentar" in texts[5]
        assert replies(stack, CHAT + 9) == ["Jawaban: halo"]
    finally:
        await stack.client.close()


async def test_group_chats_are_not_answered(stack: Stack) -> None:
    update: dict[str, Any] = tg.text_update(26, -100123, "halo semua")
    update["message"]["chat"] = {"id": -100123, "type": "group", "title": "Kader"}
    assert await stack.telegram_update(update) == 200
    await asyncio.sleep(0.3)
    assert stack.rasa.requests == [] and stack.telegram.sent == []


async def test_a_reply_that_failed_to_go_out_is_resent_without_asking_rasa_again(
    stack: Stack,
) -> None:
    channel = stack.client.app[CHANNELS].telegram
    assert channel is not None
    real_send = channel.send
    failures = [ConnectionError("store went away mid-send")]

    async def flaky_send(*args: Any, **kwargs: Any) -> None:
        if failures:
            raise failures.pop()
        await real_send(*args, **kwargs)

    channel.send = flaky_send  # type: ignore[method-assign]
    await stack.telegram_update(tg.text_update(27, CHAT, "cara cegah stunting"))
    await stack.telegram.wait_for_sent(1)
    await asyncio.sleep(0.3)
    assert replies(stack) == ["Jawaban: cara cegah stunting"]
    # Rasa saw the message once: a second request would count it twice in the conversation.
    assert stack.rasa.texts_from(f"tg:{CHAT}") == ["cara cegah stunting"]


async def test_the_bot_token_chat_ids_and_texts_stay_out_of_the_logs(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the production level (LOG_LEVEL)
    await stack.telegram_update(tg.text_update(28, CHAT, "pakai tombol"))
    await stack.telegram_update(tg.callback_update(29, CHAT, "/affirm"))
    await stack.telegram.wait_for_sent(2)
    secret = stack.telegram.token.split(":")[1]
    assert caplog.records and secret not in caplog.text
    assert str(CHAT) not in caplog.text and "pakai tombol" not in caplog.text


async def test_rasa_gets_a_bounded_number_of_messages_at_once_and_all_are_answered(
    rasa: tuple[EchoRasa, str],
    telegram_api: tuple[FakeTelegram, str],
    graph_api: Any,
    redis_prefix: str,
    redis: Redis,
) -> None:
    rasa[0].delay = 0.1
    stack = await start_stack(rasa, telegram_api, graph_api, redis_prefix, RASA_MAX_CONCURRENCY=3)
    try:
        for i in range(12):
            await stack.telegram_update(tg.text_update(400 + i, CHAT + 100 + i, f"halo {i}"))
        await stack.telegram.wait_for_sent(12, timeout=10)
        assert rasa[0].most_in_flight == 3
        for i in range(12):
            assert replies(stack, CHAT + 100 + i) == [f"Jawaban: halo {i}"]
    finally:
        await stack.client.close()
