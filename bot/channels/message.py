"""One channel-neutral message type, in and out."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Kind = Literal["text", "location", "button", "unsupported"]

# Rasa reads `/intent{entities}` payloads without NLU.
SHARE_LOCATION_INTENT = "share_location"


@dataclass(frozen=True)
class Inbound:
    """What a user sent, whatever the channel.

    `address` is where replies go (Telegram chat id, WhatsApp wa_id); `user_id`
    is the stable id Rasa's sender id is built from. Both are personal data:
    they are stored only in the inbox entry and Rasa's tracker, never logged.
    """

    channel: str
    user_id: str
    address: str
    message_id: str
    kind: Kind
    text: str = ""
    payload: str = ""
    lat: float | None = None
    lon: float | None = None
    locale: str = "id"
    timestamp: float | None = None

    @property
    def sender_id(self) -> str:
        """Rasa sender ids keep channels apart: `tg:...`, `wa:...`, `web:...`."""
        return f"{CHANNEL_PREFIXES.get(self.channel, self.channel)}:{self.user_id}"

    def rasa_text(self) -> str:
        """The text Rasa receives for this message."""
        if self.kind == "location" and self.lat is not None and self.lon is not None:
            return f'/{SHARE_LOCATION_INTENT}{{"lat": {self.lat}, "lon": {self.lon}}}'
        if self.kind == "button":
            return self.payload
        return as_words(self.text)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Inbound:
        return cls(**json.loads(raw))


CHANNEL_PREFIXES = {"telegram": "tg", "whatsapp": "wa", "web": "web"}


def as_words(text: str) -> str:
    """Typed text for NLU. Rasa reads text starting with `/` as an intent and skips NLU and
    the danger-sign rules, so only payloads we issued (buttons) may start with it."""
    stripped = text.strip()
    if not stripped.startswith("/"):
        return stripped
    words = stripped.lstrip("/").strip()
    return words or "?"


@dataclass(frozen=True)
class Choice:
    title: str
    payload: str


@dataclass(frozen=True)
class Outbound:
    """One reply: text and optional choices (Rasa's buttons)."""

    text: str
    choices: list[Choice] = field(default_factory=list)

    @classmethod
    def from_rasa(cls, messages: list[dict[str, Any]]) -> list[Outbound]:
        """Rasa's bot messages as replies; buttons without text join the previous reply."""
        replies: list[Outbound] = []
        for message in messages:
            text = message.get("text")
            choices = [
                Choice(title=str(b["title"]), payload=str(b["payload"]))
                for b in message.get("buttons") or []
                if isinstance(b, dict) and b.get("title") and b.get("payload")
            ]
            if isinstance(text, str) and text.strip():
                replies.append(cls(text=text, choices=choices))
            elif choices and replies:
                replies[-1].choices.extend(choices)
        return replies
