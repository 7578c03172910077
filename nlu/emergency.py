"""Deterministic danger-sign rules: the safety net under the intent classifier.

Pure Python (no Rasa import): the NLU pipeline (nlu/emergency_detector.py) and
the gateway (when Rasa is down) apply the same rules from one data file.

A message is cut into sentences and every sentence, and every pair of
neighbouring sentences, is checked, so a danger sign in the middle of a long,
polite story is found and words of different stories are not combined. A sign
fires when, after its `mask` phrases are blanked out ("mati lampu", the video
game "dbd", "ketawa sampai kejang"), all its `sentence` patterns match within
one such window and all its `context` patterns match somewhere in the message,
unless that window only asks in general or tells of long ago (the file's
`unless` patterns, cancelled again by `now` words such as "tadi", "masih").
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = ["DEFAULT_RULES", "EmergencyRules", "Match", "Sign", "sentences"]

DEFAULT_RULES = Path(__file__).parent / "data" / "emergency.yml"

# The kinds of reply: a general "go now, call 119", or a caring reply with 119 and
# a mental-health service for self-harm and suicide wording.
REPLY_KINDS = ("umum", "jiwa")

# Sentence ends as typed (".", "!", "?", ";", new lines) and as normalised (" . ").
_SENTENCE_END = re.compile(r"[.!?;\n]+")
# Messages are at most 4,096 characters; more is checked as one more sentence.
_MAX_SENTENCES = 200


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w)(?:{pattern})(?!\w)", re.IGNORECASE)


def sentences(text: str) -> list[str]:
    """The non-empty sentences of a text (typed or normalised)."""
    parts = [part.strip() for part in _SENTENCE_END.split(text)]
    parts = [part for part in parts if part]
    if len(parts) > _MAX_SENTENCES:
        parts = [*parts[: _MAX_SENTENCES - 1], " ".join(parts[_MAX_SENTENCES - 1 :])]
    return parts


@dataclass(frozen=True)
class Sign:
    name: str
    sentence: tuple[re.Pattern[str], ...]
    context: tuple[re.Pattern[str], ...] = ()
    mask: tuple[re.Pattern[str], ...] = ()
    reply: str = "umum"
    # General questions and long-ago events, and the words that make them current again.
    unless: tuple[re.Pattern[str], ...] = ()
    now: tuple[re.Pattern[str], ...] = ()

    def masked(self, text: str) -> str:
        for pattern in self.mask:
            text = pattern.sub(" ", text)
        return text

    def matches(self, text: str) -> bool:
        # Cheap first: a pattern found nowhere in the message is found in no sentence,
        # and masking only ever removes text.
        patterns = self.context + self.sentence
        if not all(pattern.search(text) for pattern in patterns):
            return False
        text = self.masked(text)
        if not all(pattern.search(text) for pattern in patterns):
            return False
        parts = sentences(text)
        windows = parts + [f"{a} . {b}" for a, b in itertools.pairwise(parts)]
        return any(
            all(p.search(window) for p in self.sentence) and not self._only_general(window)
            for window in windows
        )

    def _only_general(self, window: str) -> bool:
        """The window asks in general or tells of long ago, and nothing says it is happening."""
        return any(p.search(window) for p in self.unless) and not any(
            p.search(window) for p in self.now
        )


@dataclass(frozen=True)
class Match:
    """The signs found (most important first) and the reply they call for."""

    signs: tuple[str, ...]
    reply: str

    @property
    def sign(self) -> str:
        return self.signs[0]


class EmergencyRules:
    """The danger signs of nlu/data/emergency.yml."""

    def __init__(self, signs: list[Sign]) -> None:
        self.signs = signs
        self._jiwa = {sign.name for sign in signs if sign.reply == "jiwa"}

    @classmethod
    def load(cls, path: Path | str = DEFAULT_RULES) -> EmergencyRules:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        shared_mask = tuple(_compile(p) for p in data.get("mask") or [])
        unless = tuple(_compile(p) for p in data.get("unless") or [])
        now = tuple(_compile(p) for p in data.get("now") or [])
        signs = []
        for entry in data.get("signs") or []:
            name = str(entry.get("name"))
            reply = str(entry.get("reply", "umum"))
            if reply not in REPLY_KINDS:
                raise ValueError(f"{path}: sign {name!r} has unknown reply {reply!r}")
            sentence = tuple(_compile(p) for p in entry.get("sentence") or [])
            if not sentence:
                raise ValueError(f"{path}: sign {name!r} has no sentence patterns")
            context = tuple(_compile(p) for p in entry.get("context") or [])
            mask = tuple(_compile(p) for p in entry.get("mask") or [])
            if not entry.get("always"):
                mask, general = shared_mask + mask, unless
            else:
                general = ()
            signs.append(Sign(name, sentence, context, mask, reply, general, now))
        return cls(signs)

    def match(self, *texts: str) -> Match | None:
        """Every sign found in any of the texts (typed, normalised), or None."""
        found = [
            sign.name for sign in self.signs if any(text and sign.matches(text) for text in texts)
        ]
        if not found:
            return None
        # Self-harm and suicide come first: their reply is the one to give.
        found.sort(key=lambda name: name not in self._jiwa)
        return Match(tuple(found), "jiwa" if found[0] in self._jiwa else "umum")

    def first_match(self, *texts: str) -> str | None:
        """Name of the most important sign found in any of the texts, or None."""
        found = self.match(*texts)
        return found.sign if found else None
