"""The channel preview shows what the channels really send."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from actions.content import ContentStore, load_entries
from bot.app import create_app
from bot.channels.message import Choice, Outbound
from bot.channels.setup import CHANNELS
from bot.channels.whatsapp import WhatsAppChannel
from bot.console.preview import Bubble, preview, telegram_layout, whatsapp_layout
from bot.keys import MESSAGES
from tests.console.conftest import FAQ, console_settings

WHATSAPP = {
    "WHATSAPP_ACCESS_TOKEN": "token-for-tests",
    "WHATSAPP_APP_SECRET": "app-secret-for-tests",
    "WHATSAPP_VERIFY_TOKEN": "verify-me",
    "WHATSAPP_PHONE_NUMBER_ID": "1098765432",
    "WHATSAPP_API_BASE_URL": "http://127.0.0.1:9/v23.0",  # never called: nothing is sent
}


@pytest.fixture
async def gateway(
    redis: Redis, redis_prefix: str
) -> AsyncIterator[tuple[WhatsAppChannel, dict[str, str]]]:
    """The gateway's own WhatsApp channel, as it renders replies (its keys cleaned up)."""
    app = create_app(console_settings(redis_prefix, **WHATSAPP))
    server = TestServer(app)
    await server.start_server()
    channel = app[CHANNELS].whatsapp
    assert channel is not None
    yield channel, app[MESSAGES]
    await server.close()


def _seen(payload: dict[str, Any]) -> Bubble:
    """A sent WhatsApp payload as the user sees it."""
    if payload["type"] == "text":
        return Bubble("text", payload["text"]["body"])
    interactive = payload["interactive"]
    action = interactive["action"]
    if interactive["type"] == "button":
        titles = tuple(b["reply"]["title"] for b in action["buttons"])
        return Bubble("buttons", interactive["body"]["text"], titles)
    rows = tuple(r["title"] for r in action["sections"][0]["rows"])
    return Bubble("list", interactive["body"]["text"], rows, action["button"])


def _choices(*titles: str) -> list[Choice]:
    return [Choice(title, f"/topik.{i}") for i, title in enumerate(titles)]


CASES = {
    "text only": Outbound("Cuci tangan pakai sabun."),
    "reply buttons": Outbound("Pilih topik:", _choices("Imunisasi", "Gizi")),
    "a list": Outbound("Pilih topik:", _choices("Imunisasi", "Tanda bahaya saat hamil")),
    "numbered": Outbound("Pilih topik:", _choices("Gizi ibu hamil dan tablet tambah darah")),
    "long text first": Outbound("Kalimat panjang. " * 80, _choices("Imunisasi")),
    "many": Outbound("Pilih:", _choices(*(f"Topik {n}" for n in range(12)))),
}


@pytest.mark.parametrize("case", CASES)
async def test_the_whatsapp_preview_is_what_the_channel_renders(
    gateway: tuple[WhatsAppChannel, dict[str, str]], case: str
) -> None:
    channel, messages = gateway
    reply = CASES[case]
    sent = [_seen(p) for p in await channel._render("6281234567890", reply)]
    shown = [
        Bubble("text", b.text) if b.kind == "menu" else b
        for b in whatsapp_layout(reply, messages).bubbles
    ]
    assert shown == sent


def test_telegram_puts_the_buttons_under_the_last_part() -> None:
    reply = Outbound("Kalimat panjang sekali. " * 300, _choices("Imunisasi", "Gizi"))
    bubbles = telegram_layout(reply).bubbles
    assert len(bubbles) == 2 and all(len(b.text) <= 4000 for b in bubbles)
    assert [b.options for b in bubbles] == [(), ("Imunisasi", "Gizi")]


async def test_the_preview_of_an_entry_is_the_faq_answer_with_its_source_and_related(
    redis: Redis, redis_prefix: str
) -> None:
    await ContentStore(redis, redis_prefix).publish(load_entries(FAQ))
    entry = load_entries(FAQ)["kebersihan.cuci_tangan"]
    draft = entry.model_copy(update={"answer": entry.answer + " Kalimat draf."})
    messages = {"choose": "Silakan pilih:", "choose_button": "Pilihan", "menu_hint": "Balas angka."}
    whatsapp, telegram, web = await preview(draft, redis, redis_prefix, messages)
    expected = f"{draft.answer}\n\n{draft.source_line()}"
    assert web.bubbles[0].text == expected
    assert telegram.bubbles[0].text == expected
    assert expected in whatsapp.bubbles[0].text
    titles = await ContentStore(redis, redis_prefix).titles(list(entry.related))
    assert web.bubbles[0].options == tuple(titles.values())
