"""Nothing silently dropped: replies that fail for good and updates that keep failing are
dead letters, and `python -m bot.channels.deadletter` lists, replays and drops them."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from typing import Any

import pytest
from redis.asyncio import Redis

from bot.channels.deadletter import DeadLetter, dead_letter_count, read, record_reply, run
from bot.channels.setup import CHANNELS
from bot.channels.telegram import SEND_ATTEMPTS
from tests.channels.conftest import PHONE_ID, Stack, channel_settings, until, until_async
from tests.conftest import TEST_REDIS_URL
from tests.fakes import graph_api as wa
from tests.fakes import telegram_api as tg

CHAT = 888001
WA_USER = "6281388800100"


async def letters(redis: Redis, prefix: str) -> list[DeadLetter]:
    return [letter async for letter in read(redis, prefix)]


async def cli(stack: Stack, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await run(list(argv), settings=stack.settings, out=out)
    return code, out.getvalue()


async def test_a_telegram_reply_that_fails_for_good_is_dead_lettered_and_replay_sends_it(
    stack: Stack, redis: Redis, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    stack.telegram.fail_next("sendMessage", 502, "Bad Gateway", count=1000)  # down for good
    assert await stack.telegram_update(tg.text_update(1, CHAT, "pakai tombol")) == 200
    await until_async(lambda: dead_letter_count(redis, redis_prefix), timeout=15)
    attempts = [c for c in stack.telegram.calls if c.method == "sendMessage"]
    assert len(attempts) == SEND_ATTEMPTS

    [letter] = await letters(redis, redis_prefix)
    assert letter.kind == "reply" and letter.channel == "telegram"
    assert letter.fields["recipient"] == str(CHAT)
    assert letter.fields["reason"] == "NetworkError: Bad Gateway"
    assert letter.attempts == SEND_ATTEMPTS
    [message] = letter.messages()
    assert message["chat_id"] == CHAT and message["text"] == "Jawaban: pakai tombol"
    keyboard = message["reply_markup"]["inline_keyboard"]
    assert [[b["text"] for b in row] for row in keyboard] == [["Ya"], ["Tidak"]]
    # The update itself was handled: acknowledged and gone from the inbox.
    await until_async(lambda: _inbox_empty(redis, redis_prefix))
    assert str(CHAT) not in caplog.text and "pakai tombol" not in caplog.text

    stack.telegram._failures.clear()  # Telegram is back
    code, out = await cli(stack, "replay", "--all")
    assert code == 0, out
    assert f"{letter.id}: sent (1 messages)" in out
    assert stack.telegram.sent_to(CHAT) == ["Jawaban: pakai tombol"]
    assert stack.telegram.sent[0]["reply_markup"] == message["reply_markup"]
    assert await dead_letter_count(redis, redis_prefix) == 0
    assert stack.rasa.texts_from(f"tg:{CHAT}") == ["pakai tombol"]  # Rasa was not asked again


async def test_every_unsent_part_of_a_long_reply_is_kept(
    stack: Stack, redis: Redis, redis_prefix: str
) -> None:
    stack.telegram.fail_next("sendMessage", 500, "Internal Server Error", count=1000)
    await stack.telegram_update(tg.text_update(2, CHAT, "jawaban panjang"))
    await until_async(lambda: dead_letter_count(redis, redis_prefix), timeout=15)
    [letter] = await letters(redis, redis_prefix)
    parts = [m["text"] for m in letter.messages()]
    # The first part failed, so none went out: every part is kept, in order.
    assert len(parts) >= 2 and all(len(p) <= 4000 for p in parts)
    assert sum(len(p) for p in parts) > 4096 and parts[0].startswith("Ini kalimat")


async def test_a_whatsapp_reply_that_fails_for_good_is_dead_lettered_and_replay_sends_it(
    stack: Stack, redis: Redis, redis_prefix: str
) -> None:
    stack.graph.server_error_next(count=1000)
    payload = wa.envelope([wa.text_message("wamid.DL1", WA_USER, "halo")], [], PHONE_ID)
    assert await stack.whatsapp_payload(payload) == 200
    await until_async(lambda: dead_letter_count(redis, redis_prefix), timeout=15)
    [letter] = await letters(redis, redis_prefix)
    assert letter.kind == "reply" and letter.channel == "whatsapp"
    assert letter.fields["recipient"] == WA_USER
    assert letter.fields["reason"].startswith("GraphError: HTTP 500, code 1")
    assert letter.attempts == 5
    [body] = letter.messages()
    assert body["to"] == WA_USER and body["text"]["body"] == "Jawaban: halo"

    # Still failing: the dead letter stays, with the new reason and one more attempt.
    code, out = await cli(stack, "replay", "--id", letter.id)
    assert code == 1 and "failed (GraphError: HTTP 500" in out
    [kept] = await letters(redis, redis_prefix)
    assert kept.id != letter.id and kept.attempts == letter.attempts + 1
    assert kept.messages() == letter.messages()

    stack.graph._failures.clear()
    code, out = await cli(stack, "replay", "--id", kept.id)
    assert code == 0, out
    await until(lambda: bool(stack.graph.messages_to(WA_USER)))
    assert [m["text"]["body"] for m in stack.graph.messages_to(WA_USER)] == ["Jawaban: halo"]
    assert await dead_letter_count(redis, redis_prefix) == 0


async def test_an_update_that_keeps_failing_is_dead_lettered_and_replay_answers_it(
    stack: Stack, redis: Redis, redis_prefix: str
) -> None:
    channel = stack.client.app[CHANNELS].telegram
    assert channel is not None
    real_send = channel.send

    async def broken_send(*args: Any, **kwargs: Any) -> None:
        raise ValueError("a bug in rendering")

    channel.send = broken_send
    await stack.telegram_update(tg.text_update(3, CHAT, "cara cegah stunting"))
    await until_async(lambda: dead_letter_count(redis, redis_prefix), timeout=10)
    [letter] = await letters(redis, redis_prefix)
    assert letter.kind == "entry" and letter.channel == "telegram"
    assert letter.fields["reason"] == "ValueError: a bug in rendering"
    assert json.loads(letter.fields["data"])["update_id"] == 3
    await until_async(lambda: _inbox_empty(redis, redis_prefix))

    code, out = await cli(stack, "list")
    assert code == 0 and letter.id in out and "ValueError: a bug in rendering" in out
    assert "cara cegah stunting" not in out and str(CHAT) not in out

    channel.send = real_send  # the fix is deployed
    code, out = await cli(stack, "replay", "--id", letter.id)
    assert code == 0 and "back in the inbox as" in out
    await stack.telegram.wait_for_sent(1)
    assert stack.telegram.sent_to(CHAT) == ["Jawaban: cara cegah stunting"]
    assert await dead_letter_count(redis, redis_prefix) == 0


async def test_replay_of_an_unknown_id_says_so(stack: Stack) -> None:
    code, out = await cli(stack, "replay", "--id", "1-0")
    assert code == 1 and "not found" in out


async def test_a_reply_for_a_channel_not_configured_here_is_kept_untouched(
    redis: Redis, redis_prefix: str
) -> None:
    letter_id = await record_reply(
        redis,
        redis_prefix,
        channel="whatsapp",
        recipient=WA_USER,
        messages=[{"to": WA_USER, "type": "text", "text": {"body": "halo"}}],
        error=ValueError("HTTP 500"),
        attempts=5,
    )
    nowhere = "http://127.0.0.1:9"
    settings = channel_settings(nowhere, nowhere, nowhere, redis_prefix, WHATSAPP_ACCESS_TOKEN=None)
    out = io.StringIO()
    assert await run(["replay", "--all"], settings=settings, out=out) == 1
    assert "WHATSAPP_ACCESS_TOKEN" in out.getvalue()
    [letter] = await letters(redis, redis_prefix)
    assert letter.id == letter_id and letter.fields["reason"] == "ValueError: HTTP 500"


def test_the_command_line_lists_and_drops_with_redis_url_and_prefix(
    redis_prefix: str,
) -> None:
    import redis as redis_sync

    client = redis_sync.Redis.from_url(TEST_REDIS_URL)
    stream = f"{redis_prefix}deadletter"
    try:
        for n in range(3):
            client.xadd(
                stream,
                {
                    "kind": "entry",
                    "channel": "telegram",
                    "key": f"tg:{CHAT}",
                    "data": json.dumps({"text": f"rahasia {n}"}),
                    "entry_id": f"{n + 1}-0",
                    "reason": "ValueError: bug",
                    "where": "bot/channels/telegram.py:1 in process",
                    "attempts": 3,
                    "at": "1764000000.5",
                },
            )
        env = {
            **os.environ,
            "REDIS_URL": TEST_REDIS_URL,
            "KS_REDIS_PREFIX": redis_prefix,
            "PYTHONPATH": ".",
        }
        command = [sys.executable, "-m", "bot.channels.deadletter"]
        listed = subprocess.run(
            [*command, "list"], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert lines[0] == f"3 dead letters in {stream}"
        assert len(lines) == 4 and all("ValueError: bug" in line for line in lines[1:])
        assert "2025-11-24T16:00:00Z" in lines[1]
        assert "rahasia" not in listed.stdout and str(CHAT) not in listed.stdout
        first = lines[1].split()[0]
        dropped = subprocess.run(
            [*command, "drop", "--id", first], env=env, capture_output=True, text=True, timeout=60
        )
        assert dropped.returncode == 0 and "dropped 1" in dropped.stdout
        assert client.xlen(stream) == 2
        dropped = subprocess.run(
            [*command, "drop", "--all"], env=env, capture_output=True, text=True, timeout=60
        )
        assert dropped.returncode == 0 and "dropped 2" in dropped.stdout
        assert client.xlen(stream) == 0
    finally:
        client.delete(stream)
        client.close()


async def _inbox_empty(redis: Redis, prefix: str) -> bool:
    return int(await redis.xlen(f"{prefix}inbox")) == 0
