"""One-word stop, before NLU: STOP, BERHENTI, UNREG, ... and MULAI.

A message that is nothing but a stop phrase (any case, punctuation and emoji
around it ignored), or the stop button's payload, ends every subscription of
the user on any channel, whatever the classifier would have made of it. Only
the whole message counts: "stop dulu ya aku mau tanya" and "berhenti merokok
gimana" are questions for the assistant. "MULAI" removes the opt-out marker.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from bot.channels.message import Inbound

__all__ = [
    "START_PHRASES",
    "STOP_PAYLOAD",
    "STOP_PHRASES",
    "Command",
    "command_in",
    "intent_of",
    "stop_command",
]

Command = Literal["stop", "start"]

# The stop button of reminders and broadcasts (one tap ends everything).
STOP_PAYLOAD = "/unsubscribe"
STOP_PHRASES = frozenset(
    {
        "stop",
        "berhenti",
        "unreg",
        "stop kirim",
        "berhenti langganan",
        "stop langganan",
        "unsubscribe",
    }
)
START_PHRASES = frozenset({"mulai", "mulai lagi"})
MAX_CHARS = 200  # a bare stop phrase, even wrapped in punctuation and emoji, is shorter

_NOT_WORD = re.compile(r"[\W_]+")


def _normal(text: str) -> str:
    """Lowercase words separated by single spaces; punctuation, symbols and emoji dropped."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NOT_WORD.sub(" ", folded).split())


def command_in(text: str) -> Command | None:
    """The command ("stop" or "start") when the whole text is such a phrase, else None."""
    if len(text) > MAX_CHARS:
        return None
    words = _normal(text)
    if words in STOP_PHRASES:
        return "stop"
    if words in START_PHRASES:
        return "start"
    return None


def stop_command(message: Inbound) -> Command | None:
    """The command a message carries: typed text, or the stop button's payload."""
    if message.kind == "text":
        return command_in(message.text)
    if message.kind == "button" and message.payload.strip() == STOP_PAYLOAD:
        return "stop"
    return None


def intent_of(command: Command) -> str | None:
    """The intent reported for it by the chat API (`unsubscribe`, topics.md); MULAI has none."""
    return "unsubscribe" if command == "stop" else None
