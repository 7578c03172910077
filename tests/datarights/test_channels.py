"""Telegram and WhatsApp: STOP, MULAI, "data saya apa saja?" and "hapus data saya" through
the webhooks, the inbox, the real actions and the fake platforms; then a scan of Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from actions.datarights import say
from actions.optout import opt_out_key
from actions.pseudonym import user_key
from bot import datarights as bot_datarights
from tests.channels.conftest import PHONE_ID, Stack, start_stack, until, until_async
from tests.datarights.conftest import (
    ScriptedRasa,
    assert_untouched,
    needles,
    real_wamid,
    reminders_store,
    residue,
    save_posyandu,
    snapshot,
    subscribe,
)
from tests.fakes import graph_api as wa
from tests.fakes import telegram_api as tg
from tests.fakes.graph_api import FakeGraph
from tests.fakes.telegram_api import FakeTelegram

ANI_TG, BUDI_TG = 7770012345, 7770054321
ANI_WA, BUDI_WA = "6281377770001", "6281377770002"


@pytest.fixture
async def stack(
    scripted: tuple[ScriptedRasa, str],
    telegram_api: tuple[FakeTelegram, str],
    graph_api: tuple[FakeGraph, str],
    redis_prefix: str,
    redis: Redis,
) -> AsyncIterator[Stack]:
    running = await start_stack(scripted, telegram_api, graph_api, redis_prefix)  # type: ignore[arg-type]
    yield running
    await running.client.close()


def rasa_of(stack: Stack) -> ScriptedRasa:
    rasa: Any = stack.rasa
    assert isinstance(rasa, ScriptedRasa)
    return rasa


async def drained(redis: Redis, prefix: str) -> None:
    """Every accepted message answered (or dead-lettered): the inbox stream is empty."""

    async def empty() -> bool:
        return int(await redis.xlen(f"{prefix}inbox")) == 0

    await until_async(empty, timeout=10)


async def dead_letters(redis: Redis, prefix: str) -> int:
    return int(await redis.xlen(f"{prefix}deadletter"))


def inventory_lines(text: str) -> list[str]:
    return [line.removeprefix("• ") for line in text.split("\n")[1:-1]]


async def expected_reminder_lines(redis: Redis, prefix: str, sender: str) -> list[str]:
    store = reminders_store()
    if store is None:
        return []
    return [str(line) for line in await store.describe_user(redis, prefix, user_key(sender))]


# --- Telegram ------------------------------------------------------------------------------


class TelegramUser:
    def __init__(self, stack: Stack, chat: int) -> None:
        self.stack, self.chat, self._update = stack, chat, chat % 1000 * 1000

    @property
    def sender(self) -> str:
        return f"tg:{self.chat}"

    def replies(self) -> list[dict[str, Any]]:
        return [p for p in self.stack.telegram.sent if p.get("chat_id") == self.chat]

    async def send(self, update: dict[str, Any], replies: int | None = 1) -> None:
        before = len(self.replies())
        assert await self.stack.telegram_update(update) == 200
        if replies:
            await until(lambda: len(self.replies()) >= before + replies)

    def next_id(self) -> int:
        self._update += 1
        return self._update

    async def says(self, text: str, replies: int | None = 1) -> None:
        await self.send(tg.text_update(self.next_id(), self.chat, text), replies)

    async def presses(self, title: str) -> None:
        keyboard = self.replies()[-1]["reply_markup"]["inline_keyboard"]
        [data] = [b["callback_data"] for row in keyboard for b in row if b["text"] == title]
        await self.send(tg.callback_update(self.next_id(), self.chat, data))


async def populate_telegram(user: TelegramUser, redis: Redis, prefix: str, secret: str) -> bool:
    """Data of every kind the gateway and the actions keep, written the way they write it."""
    await user.says("halo")
    await user.says(f"krim jerawat {secret}-q aman buat bumil?")
    await save_posyandu(redis, prefix, user.sender)
    subscribed = await subscribe(redis, prefix, user.sender)
    letters = await dead_letters(redis, prefix)
    user.stack.telegram.fail_next("sendMessage", 400, "Bad Request: message is too long")
    await user.says(f"apa kabar {secret}-dl", replies=None)  # the reply is dead-lettered
    await until_async(lambda: _more(redis, prefix, letters))
    await user.says(f"meledak {secret}-boom", replies=None)  # the entry is dead-lettered
    await until_async(lambda: _more(redis, prefix, letters + 1), timeout=10)
    return subscribed


async def _more(redis: Redis, prefix: str, than: int) -> bool:
    return await dead_letters(redis, prefix) > than


async def test_erasure_on_telegram_leaves_nothing_but_the_marker(
    stack: Stack, redis: Redis, redis_prefix: str
) -> None:
    ani, budi = TelegramUser(stack, ANI_TG), TelegramUser(stack, BUDI_TG)
    subscribed = await populate_telegram(ani, redis, redis_prefix, "rahasia-ani")
    await populate_telegram(budi, redis, redis_prefix, "rahasia-budi")
    await ani.send(tg.my_chat_member_update(ani.next_id(), ANI_TG, "kicked"), replies=None)
    await until_async(
        lambda: redis.exists(f"{redis_prefix}unreachable:{user_key(ani.sender)}"),
    )

    await ani.says("data saya apa saja?")
    reminder_lines = await expected_reminder_lines(redis, redis_prefix, ani.sender)
    assert inventory_lines(ani.replies()[-1]["text"]) == [
        say("inventory", "lines", "tracker_tg"),
        *reminder_lines,
        *([say("inventory", "lines", "planned", count=1)] if subscribed else []),
        say("inventory", "lines", "posyandu"),
        say("inventory", "lines", "unanswered", count=1),
        say("inventory", "lines", "dead_letters", count=2),
        say("inventory", "lines", "unreachable"),
        say("inventory", "lines", "transient_tg"),
    ]

    await ani.says("hapus data saya")
    await drained(redis, redis_prefix)
    before = await snapshot(redis, redis_prefix)
    await ani.presses("Ya, hapus semua")
    assert ani.replies()[-1]["text"] == say("erase", "done")
    await drained(redis, redis_prefix)

    marker = opt_out_key(redis_prefix, user_key(ani.sender))
    marks = needles(ani.sender, "rahasia-ani")
    assert await residue(redis, redis_prefix, marks) == {marker: user_key(ani.sender)}
    assert await redis.get(marker) == b"1"
    after = await snapshot(redis, redis_prefix)
    assert_untouched(before, after, needles(budi.sender), needles(ani.sender))
    assert await dead_letters(redis, redis_prefix) == 2  # Budi's


async def test_an_erasure_redis_fails_is_retried_until_done(
    stack: Stack, redis: Redis, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ani = TelegramUser(stack, ANI_TG)
    await ani.says("halo")
    await save_posyandu(redis, redis_prefix, ani.sender)
    await ani.says("hapus data saya")
    real_erase = bot_datarights.erase
    calls: list[str] = []

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[2])
        if len(calls) == 1:
            raise RedisConnectionError("Redis went away")
        return await real_erase(*args, **kwargs)

    monkeypatch.setattr(bot_datarights, "erase", flaky)
    await ani.presses("Ya, hapus semua")
    await drained(redis, redis_prefix)
    assert calls == [ani.sender, ani.sender]
    # The reply went out, then again with the retry; the erasure was done in the end.
    assert [r["text"] for r in ani.replies()[-2:]] == [say("erase", "done")] * 2
    marker = opt_out_key(redis_prefix, user_key(ani.sender))
    assert await residue(redis, redis_prefix, needles(ani.sender)) == {marker: user_key(ani.sender)}


async def test_stop_on_telegram_ends_everything_without_rasa(
    stack: Stack, redis: Redis, redis_prefix: str
) -> None:
    ani = TelegramUser(stack, ANI_TG)
    rasa = rasa_of(stack)
    subscribed = await subscribe(redis, redis_prefix, ani.sender)
    marker = opt_out_key(redis_prefix, user_key(ani.sender))

    await ani.says("STOP")
    assert ani.replies()[-1]["text"] == say("stop", "done" if subscribed else "nothing")
    assert await redis.get(marker) == b"1"
    assert rasa.texts_from(ani.sender) == []
    if subscribed:
        store = reminders_store()
        assert store is not None
        assert await store.list_subscriptions(redis, redis_prefix, user_key(ani.sender)) == []
        left = await residue(redis, redis_prefix, [user_key(ani.sender), str(ANI_TG)])
        # No record, no planned send, no index entry: the marker and this minute's count.
        assert {k for k in left if ":flood:" not in k} == {marker}

    await ani.says("/stop")  # an unknown command: read as the word
    await ani.send(tg.callback_update(ani.next_id(), ANI_TG, "/unsubscribe"))  # the stop button
    assert [r["text"] for r in ani.replies()[-2:]] == [say("stop", "nothing")] * 2
    await ani.says("Mulai")
    assert ani.replies()[-1]["text"] == say("start", "resumed")
    assert not await redis.exists(marker)

    await ani.says("stop dulu ya aku mau tanya")
    assert rasa.texts_from(ani.sender) == ["stop dulu ya aku mau tanya"]
    assert not await redis.exists(marker)


async def test_a_stop_over_the_flood_limit_still_counts(
    scripted: tuple[ScriptedRasa, str],
    telegram_api: tuple[FakeTelegram, str],
    graph_api: tuple[FakeGraph, str],
    redis_prefix: str,
    redis: Redis,
) -> None:
    stack = await start_stack(
        scripted,  # type: ignore[arg-type]
        telegram_api,
        graph_api,
        redis_prefix,
        KS_USER_MESSAGES_PER_MINUTE=2,
    )
    try:
        ani = TelegramUser(stack, ANI_TG)
        await ani.says("satu")
        await ani.says("dua")
        await ani.says("tiga")  # over the limit: the polite notice
        await ani.says("STOP", replies=None)
        marker = opt_out_key(redis_prefix, user_key(ani.sender))
        await until_async(lambda: redis.exists(marker))
        await drained(redis, redis_prefix)
        assert len(ani.replies()) == 3  # no reply over the limit, but the stop is kept
    finally:
        await stack.client.close()


# --- WhatsApp ------------------------------------------------------------------------------


class WhatsAppUser:
    def __init__(self, stack: Stack, wa_id: str) -> None:
        self.stack, self.wa_id, self._n = stack, wa_id, 0

    @property
    def sender(self) -> str:
        return f"wa:{self.wa_id}"

    def replies(self) -> list[dict[str, Any]]:
        return self.stack.graph.messages_to(self.wa_id)

    def wamid(self) -> str:
        self._n += 1
        return f"wamid.{self.wa_id}.{self._n}"

    async def send(self, message: dict[str, Any], replies: int | None = 1) -> None:
        before = len(self.replies())
        envelope = wa.envelope(messages=[message], phone_number_id=PHONE_ID)
        assert await self.stack.whatsapp_payload(envelope) == 200
        if replies:
            await until(lambda: len(self.replies()) >= before + replies)

    async def says(self, text: str, replies: int | None = 1) -> None:
        await self.send(wa.text_message(self.wamid(), self.wa_id, text), replies)

    async def presses(self, title: str) -> None:
        interactive = self.replies()[-1]["interactive"]
        [button] = [
            b["reply"] for b in interactive["action"]["buttons"] if b["reply"]["title"] == title
        ]
        await self.send(wa.button_reply_message(self.wamid(), self.wa_id, button["id"], title))


def text_of(body: dict[str, Any]) -> str:
    if body["type"] == "text":
        return str(body["text"]["body"])
    return str(body["interactive"]["body"]["text"])


async def populate_whatsapp(user: WhatsAppUser, redis: Redis, prefix: str, secret: str) -> bool:
    await user.says("halo")
    await user.says("menu panjang")  # twelve long choices: a numbered menu
    await user.says(f"krim jerawat {secret}-q aman buat bumil?")
    await save_posyandu(redis, prefix, user.sender)
    subscribed = await subscribe(redis, prefix, user.sender)
    # Meta reports delivery of our replies by their ids, which carry the number.
    status = wa.status_update(real_wamid(user.wa_id, 1), user.wa_id, "delivered")
    statuses = wa.envelope(statuses=[status], phone_number_id=PHONE_ID)
    assert await user.stack.whatsapp_payload(statuses) == 200
    letters = await dead_letters(redis, prefix)
    # Refused for good (the read receipt may take one of the two refusals).
    user.stack.graph.fail_next(400, 100, "(#100) Invalid parameter", count=2)
    await user.says(f"apa kabar {secret}-dl", replies=None)
    await until_async(lambda: _more(redis, prefix, letters))
    await user.says(f"meledak {secret}-boom", replies=None)
    await until_async(lambda: _more(redis, prefix, letters + 1), timeout=10)
    return subscribed


async def test_erasure_on_whatsapp_leaves_nothing_but_the_marker(
    stack: Stack, redis: Redis, redis_prefix: str
) -> None:
    ani, budi = WhatsAppUser(stack, ANI_WA), WhatsAppUser(stack, BUDI_WA)
    subscribed = await populate_whatsapp(ani, redis, redis_prefix, "rahasia-ani")
    await populate_whatsapp(budi, redis, redis_prefix, "rahasia-budi")

    await ani.says("data saya apa saja?", replies=2)  # long: the text, then its button
    reminder_lines = await expected_reminder_lines(redis, redis_prefix, ani.sender)
    listed, button = ani.replies()[-2:]
    assert button["interactive"]["action"]["buttons"][0]["reply"]["title"] == "Hapus data saya"
    assert inventory_lines(text_of(listed)) == [
        say("inventory", "lines", "tracker_wa"),
        *reminder_lines,
        *([say("inventory", "lines", "planned", count=1)] if subscribed else []),
        say("inventory", "lines", "posyandu"),
        say("inventory", "lines", "unanswered", count=1),
        say("inventory", "lines", "dead_letters", count=2),
        say("inventory", "lines", "wa_window"),
        say("inventory", "lines", "wa_menu"),
        say("inventory", "lines", "transient_wa"),
    ]

    await ani.says("hapus data saya")
    await drained(redis, redis_prefix)
    before = await snapshot(redis, redis_prefix)
    await ani.presses("Ya, hapus semua")
    # Sent inside the 24-hour window as a plain text, not as the re-engagement template.
    assert ani.replies()[-1]["type"] == "text"
    assert text_of(ani.replies()[-1]) == say("erase", "done")
    await drained(redis, redis_prefix)

    marker = opt_out_key(redis_prefix, user_key(ani.sender))
    marks = needles(ani.sender, "rahasia-ani")
    assert await residue(redis, redis_prefix, marks) == {marker: user_key(ani.sender)}
    after = await snapshot(redis, redis_prefix)
    assert_untouched(before, after, needles(budi.sender), needles(ani.sender))
    assert await dead_letters(redis, redis_prefix) == 2  # Budi's


async def test_stop_on_whatsapp_typed_tapped_or_understood(
    stack: Stack, redis: Redis, redis_prefix: str
) -> None:
    ani = WhatsAppUser(stack, ANI_WA)
    rasa = rasa_of(stack)
    marker = opt_out_key(redis_prefix, user_key(ani.sender))
    subscribed = await subscribe(redis, redis_prefix, ani.sender)

    await ani.says("Berhenti langganan!")
    assert text_of(ani.replies()[-1]) == say("stop", "done" if subscribed else "nothing")
    assert await redis.get(marker) == b"1" and rasa.texts_from(ani.sender) == []

    # The quick-reply button of a reminder template carries the stop payload.
    button = {"payload": "/unsubscribe", "text": "Berhenti"}
    await ani.send(
        {**wa.text_message(ani.wamid(), ANI_WA, "x"), "type": "button", "button": button}
    )
    assert text_of(ani.replies()[-1]) == say("stop", "nothing")
    await ani.says("MULAI")
    assert text_of(ani.replies()[-1]) == say("start", "resumed")
    assert not await redis.exists(marker)

    # Said in other words, Rasa understands it: the same stop, finished by the gateway.
    resubscribed = await subscribe(redis, redis_prefix, ani.sender)
    await ani.says("tolong jangan kirim pengingat lagi")
    assert rasa.texts_from(ani.sender) == ["tolong jangan kirim pengingat lagi"]
    assert text_of(ani.replies()[-1]) == say("stop", "done" if resubscribed else "nothing")
    await drained(redis, redis_prefix)
    assert await redis.get(marker) == b"1"
    if resubscribed:
        assert not await redis.exists(f"{redis_prefix}rem:sub:{user_key(ani.sender)}")
        left = await residue(redis, redis_prefix, [user_key(ani.sender), ANI_WA])
        assert not any(":rem:" in key or ":u:" in key for key in left)
