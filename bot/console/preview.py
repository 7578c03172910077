"""How a draft answer looks on each channel, before it is published.

The message is made by the action that answers FAQ topics (actions/faq.py
`answer_topic`), fed a store in which the draft is published; it is then cut and
laid out with the channels' own limits and rules (bot/channels/).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from rasa_sdk.executor import CollectingDispatcher
from redis.asyncio import Redis

from actions.content import ContentStore, FaqEntry
from actions.faq import answer_topic
from bot.channels import telegram
from bot.channels import whatsapp as wa
from bot.channels.message import Outbound
from bot.channels.text import split_message

__all__ = [
    "Bubble",
    "ChannelPreview",
    "preview",
    "telegram_layout",
    "web_layout",
    "whatsapp_layout",
]

BubbleKind = Literal["text", "buttons", "list", "menu"]


@dataclass(frozen=True)
class Bubble:
    """One message as the user sees it: text, then its buttons or list rows, if any."""

    kind: BubbleKind
    text: str
    options: tuple[str, ...] = ()
    list_button: str | None = None  # the label that opens a WhatsApp list


@dataclass(frozen=True)
class ChannelPreview:
    name: str
    bubbles: list[Bubble]
    notes: list[str] = field(default_factory=list)


class _DraftStore(ContentStore):
    """The published store, with one draft entry published in it (nothing is written)."""

    def __init__(self, redis: Redis, prefix: str, draft: FaqEntry) -> None:
        super().__init__(redis, prefix)
        self._draft = draft

    async def get(self, topic: str) -> FaqEntry | None:
        return self._draft if topic == self._draft.id else await super().get(topic)


async def preview(
    entry: FaqEntry, redis: Redis, prefix: str, messages: dict[str, str]
) -> list[ChannelPreview]:
    """The draft on WhatsApp, Telegram and the web chat; [] when the store cannot be read."""
    dispatcher = CollectingDispatcher()
    await answer_topic(_DraftStore(redis, prefix, entry), entry.id, dispatcher)
    replies = Outbound.from_rasa(dispatcher.messages)
    if len(replies) != 1:
        return []
    reply = replies[0]
    return [whatsapp_layout(reply, messages), telegram_layout(reply), web_layout(reply)]


def _titles(reply: Outbound) -> tuple[str, ...]:
    return tuple(choice.title for choice in reply.choices)


def web_layout(reply: Outbound) -> ChannelPreview:
    kind: BubbleKind = "buttons" if reply.choices else "text"
    return ChannelPreview("Web chat", [Bubble(kind, reply.text, _titles(reply))])


def telegram_layout(reply: Outbound) -> ChannelPreview:
    """Parts of at most 4,000 characters; the buttons (one per row) under the last."""
    parts = split_message(reply.text, telegram.MESSAGE_LIMIT)
    bubbles = [Bubble("text", part) for part in parts]
    if reply.choices:
        titles = tuple(title[:64] for title in _titles(reply))
        bubbles[-1] = Bubble("buttons", parts[-1], titles)
    return ChannelPreview("Telegram", bubbles, _parts_note(len(parts)))


def whatsapp_layout(reply: Outbound, messages: dict[str, str]) -> ChannelPreview:
    """The layout WhatsAppChannel._render sends: reply buttons, a list, or a numbered menu,
    whichever fits (tests/console/test_preview.py holds the two together)."""
    titles = _titles(reply)
    if not titles:
        parts = split_message(reply.text, wa.TEXT_LIMIT)
        return ChannelPreview(
            "WhatsApp", [Bubble("text", p) for p in parts], _parts_note(len(parts))
        )
    parts = split_message(reply.text, wa.INTERACTIVE_BODY_LIMIT)
    bodies: list[Bubble] = []
    prompt = parts[0]
    notes: list[str] = []
    if len(parts) > 1:
        bodies = [Bubble("text", p) for p in split_message(reply.text, wa.TEXT_LIMIT)]
        prompt = messages["choose"]
        notes.append(
            f"Jawaban lebih dari {wa.INTERACTIVE_BODY_LIMIT} karakter: tombol dikirim"
            " sebagai pesan terpisah."
        )
    if len(titles) <= wa.MAX_BUTTONS and all(len(t) <= wa.BUTTON_TITLE_LIMIT for t in titles):
        return ChannelPreview("WhatsApp", [*bodies, Bubble("buttons", prompt, titles)], notes)
    notes.append(
        f"Ada judul topik terkait lebih dari {wa.BUTTON_TITLE_LIMIT} karakter:"
        " WhatsApp tidak memakai tombol balasan."
    )
    if len(titles) <= wa.MAX_ROWS and all(len(t) <= wa.ROW_TITLE_LIMIT for t in titles):
        menu = Bubble("list", prompt, titles, messages["choose_button"])
        return ChannelPreview("WhatsApp", [*bodies, menu], notes)
    lines = "\n".join(f"{i}. {title}" for i, title in enumerate(titles, start=1))
    text = f"{prompt}\n\n{lines}\n\n{messages['menu_hint']}"
    notes.append("Judul terlalu panjang untuk daftar: pilihan dikirim sebagai menu bernomor.")
    menu_parts = [Bubble("menu", part) for part in split_message(text, wa.TEXT_LIMIT)]
    return ChannelPreview("WhatsApp", [*bodies, *menu_parts], notes)


def _parts_note(count: int) -> list[str]:
    return [f"Dikirim sebagai {count} pesan."] if count > 1 else []
