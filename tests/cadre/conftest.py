"""Cadre commands: a small Posyandu directory in WIB/WITA/WIT, cadres registered through the
CLI, subscribers with consent, the gateway against the fake platforms and a fake Rasa."""

from __future__ import annotations

import io
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from actions.posyandu.directory import Directory
from actions.pseudonym import user_key
from actions.reminders.cli import parser, run
from actions.reminders.consent import PURPOSE_POSYANDU
from actions.reminders.store import contact_of, subscribe_posyandu
from bot.reminders.store import Keys, decode

# The fake servers are the channel tests' own fixtures.
from tests.channels.conftest import (  # noqa: F401
    PHONE_ID,
    Stack,
    graph_api,
    rasa,
    start_stack,
    telegram_api,
    until,
)
from tests.fakes import graph_api as wa
from tests.fakes import telegram_api as tg
from tests.fakes.graph_api import FakeGraph
from tests.fakes.rasa_api import EchoRasa
from tests.fakes.telegram_api import FakeTelegram
from tests.reminders_store.conftest import RECORDS, consent

__all__ = [
    "RECORDS",
    "TelegramUser",
    "WhatsAppUser",
    "planned",
    "register",
    "subscribe",
]


async def register(redis: Redis, prefix: str, *posyandu: str) -> tuple[str, str]:
    """What the Puskesmas does with the CLI: register a cadre, then give them a link code."""
    out = io.StringIO()
    args = ["cadre", "add", *(f"--posyandu={p}" for p in posyandu)]
    assert await run(parser().parse_args(args), redis, prefix, out) == 0
    [cadre_id] = re.findall(r"Kader terdaftar: (kdr-[0-9a-f]+)", out.getvalue())
    out = io.StringIO()
    assert await run(parser().parse_args(["cadre", "code", cadre_id]), redis, prefix, out) == 0
    [code] = re.findall(r"\b(\d{6})\b", out.getvalue())
    return cadre_id, code


async def subscribe(
    redis: Redis, prefix: str, sender_id: str, posyandu_id: str, now: float | None = None
) -> str:
    """A citizen who said "Setuju" and subscribed to a Posyandu's reminders; their pseudonym."""
    now = time.time() if now is None else now
    user = user_key(sender_id)
    await consent(redis, prefix, user, PURPOSE_POSYANDU, now=now)
    contact = contact_of(sender_id)
    assert contact is not None
    await subscribe_posyandu(redis, prefix, user, posyandu_id, contact, now)
    return user


async def planned(redis: Redis, prefix: str, start: str) -> dict[str, Any]:
    """The engine's planned sends whose idempotency key starts with `start`, by key."""
    keys = Keys(prefix)
    found = {}
    async for raw in redis.scan_iter(match=f"{keys.item(start)}*", count=1000):
        name = raw.decode()
        key = name[len(keys.item("")) :]
        found[key] = decode(key, await redis.get(name))
    return found


@pytest.fixture
async def directory(redis: Redis, redis_prefix: str) -> Directory:
    directory = Directory(redis, redis_prefix)
    await directory.upsert(RECORDS)
    return directory


@pytest.fixture
async def stack(
    rasa: tuple[EchoRasa, str],  # noqa: F811 (the imported fixtures)
    telegram_api: tuple[FakeTelegram, str],  # noqa: F811
    graph_api: tuple[FakeGraph, str],  # noqa: F811
    redis_prefix: str,
    redis: Redis,
    directory: Directory,
) -> AsyncIterator[Stack]:
    """The gateway with the engine's worker off: planned sends stay in Redis to be seen."""
    running = await start_stack(rasa, telegram_api, graph_api, redis_prefix, KS_REMINDER_WORKERS=0)
    yield running
    await running.client.close()


class TelegramUser:
    def __init__(self, stack: Stack, chat: int) -> None:
        self.stack, self.chat, self._update = stack, chat, chat % 1000 * 1000

    @property
    def sender(self) -> str:
        return f"tg:{self.chat}"

    def replies(self) -> list[dict[str, Any]]:
        return [p for p in self.stack.telegram.sent if p.get("chat_id") == self.chat]

    def last(self) -> str:
        return str(self.replies()[-1]["text"])

    def buttons(self) -> list[str]:
        markup = self.replies()[-1].get("reply_markup") or {"inline_keyboard": []}
        return [b["text"] for row in markup["inline_keyboard"] for b in row]

    async def send(self, update: dict[str, Any], replies: int = 1) -> None:
        before = len(self.replies())
        assert await self.stack.telegram_update(update) == 200
        await until(lambda: len(self.replies()) >= before + replies)

    def next_id(self) -> int:
        self._update += 1
        return self._update

    async def says(self, text: str, replies: int = 1) -> None:
        await self.send(tg.text_update(self.next_id(), self.chat, text), replies)

    async def presses(self, title: str, replies: int = 1) -> None:
        keyboard = self.replies()[-1]["reply_markup"]["inline_keyboard"]
        [data] = [b["callback_data"] for row in keyboard for b in row if b["text"] == title]
        await self.send(tg.callback_update(self.next_id(), self.chat, data), replies)


class WhatsAppUser:
    def __init__(self, stack: Stack, wa_id: str) -> None:
        self.stack, self.wa_id, self._n = stack, wa_id, 0

    @property
    def sender(self) -> str:
        return f"wa:{self.wa_id}"

    def replies(self) -> list[dict[str, Any]]:
        return self.stack.graph.messages_to(self.wa_id)

    def last(self) -> str:
        body = self.replies()[-1]
        if body["type"] == "text":
            return str(body["text"]["body"])
        return str(body["interactive"]["body"]["text"])

    def wamid(self) -> str:
        self._n += 1
        return f"wamid.{self.wa_id}.{self._n}"

    async def send(self, message: dict[str, Any], replies: int = 1) -> None:
        before = len(self.replies())
        envelope = wa.envelope(messages=[message], phone_number_id=PHONE_ID)
        assert await self.stack.whatsapp_payload(envelope) == 200
        await until(lambda: len(self.replies()) >= before + replies)

    async def says(self, text: str, replies: int = 1) -> None:
        await self.send(wa.text_message(self.wamid(), self.wa_id, text), replies)

    async def presses(self, title: str, replies: int = 1) -> None:
        interactive = self.replies()[-1]["interactive"]
        [button] = [
            b["reply"] for b in interactive["action"]["buttons"] if b["reply"]["title"] == title
        ]
        reply = wa.button_reply_message(self.wamid(), self.wa_id, button["id"], title)
        await self.send(reply, replies)
