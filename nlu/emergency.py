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
from typing import Any

import yaml

__all__ = [
    "DEFAULT_RULES",
    "Decision",
    "EmergencyRules",
    "Match",
    "Sign",
    "below_thresholds",
    "decide",
    "sentences",
]

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

    def considered(self, text: str) -> bool:
        """The sign's words are in the text, whether or not a mask, context or veto stopped it."""
        return all(pattern.search(text) for pattern in self.sentence)

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


def _distinct(texts: tuple[str, ...]) -> list[str]:
    """The non-empty texts, each once (typed and normalised are often the same)."""
    return list(dict.fromkeys(text for text in texts if text))


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
        unique = _distinct(texts)
        found = [sign.name for sign in self.signs if any(sign.matches(t) for t in unique)]
        if not found:
            return None
        # Self-harm and suicide come first: their reply is the one to give.
        found.sort(key=lambda name: name not in self._jiwa)
        return Match(tuple(found), "jiwa" if found[0] in self._jiwa else "umum")

    def considered(self, *texts: str) -> bool:
        """Some sign's words are in the texts: the rules looked at this message and said no."""
        unique = _distinct(texts)
        return any(sign.considered(text) for sign in self.signs for text in unique)

    def first_match(self, *texts: str) -> str | None:
        """Name of the most important sign found in any of the texts, or None."""
        found = self.match(*texts)
        return found.sign if found else None


EMERGENCY = "emergency"
FALLBACK = "nlu_fallback"
# DIET's own `emergency` prediction counts only at or above this confidence, and only
# for wordings the rules do not know (see decide()). Chosen by `make bench-nlu`.
CLASSIFIER_EMERGENCY_MIN = 0.6
# Intents whose reply is itself a polite decline ("not my topic", with the menu).
DECLINES = ("out_of_scope", "out_of_scope_health")
# Below the FallbackClassifier's threshold, a decline the classifier ranks first still
# stands from this confidence on: its reply says as much as the fallback's "tulis dengan
# kata lain", but tells the truth (we cannot answer that one, ask a health worker).
# Chosen from the curve of `make bench-nlu` (README, "Thresholds from the curve").
DECLINE_MIN = 0.2


def below_thresholds(ranking: list[dict[str, Any]], threshold: float, ambiguity: float) -> bool:
    """The FallbackClassifier's test: the top guess is unsure, or too close to the next."""
    if not ranking:
        return True
    first = float(ranking[0].get("confidence") or 0.0)
    second = float(ranking[1].get("confidence") or 0.0) if len(ranking) > 1 else 0.0
    return first < threshold or first - second < ambiguity


@dataclass(frozen=True)
class Decision:
    """The intent to give a message, once danger signs have had their say."""

    intent: str
    confidence: float
    ranking: list[dict[str, Any]]
    kind: str | None = None  # umum | jiwa, for an emergency
    source: str | None = None  # "rules" or "classifier", for an emergency


def decide(
    ranking: list[dict[str, Any]],
    found: Match | None,
    considered: bool,
    threshold: float,
    ambiguity: float,
    classifier_min: float = CLASSIFIER_EMERGENCY_MIN,
    decline_min: float = DECLINE_MIN,
) -> Decision | None:
    """Emergency by the rules, or by the classifier where the rules know no such words.

    `ranking` is the classifier's (without the fallback entry). The rules win. The
    classifier's own `emergency` stands when it is confident and no sign's words are
    in the message; when the rules saw the words and said no ("ketawa sampai
    kejang-kejang", "tandanya seperti apa"), or the classifier is unsure, its
    `emergency` is dropped and the rest of its ranking decides, with the same
    FallbackClassifier thresholds. A decline (out_of_scope, out_of_scope_health) that
    the classifier ranks first stands from `decline_min` on, below the thresholds too.
    None: leave the message as it is.
    """
    others = [entry for entry in ranking if entry.get("name") != EMERGENCY]
    if found is not None:
        top = {"name": EMERGENCY, "confidence": 1.0}
        return Decision(EMERGENCY, 1.0, [top, *others], found.reply, "rules")
    if not ranking or ranking[0].get("name") != EMERGENCY:
        return _kept_decline(ranking, threshold, ambiguity, decline_min)
    confidence = float(ranking[0].get("confidence") or 0.0)
    if confidence >= classifier_min and not considered:
        names = [str(entry.get("name")) for entry in others[:2]]
        kind = "jiwa" if "jiwa.stres" in names else "umum"
        return Decision(EMERGENCY, confidence, ranking, kind, "classifier")
    rest = max(1e-9, 1.0 - confidence)
    rescaled = [
        {**entry, "confidence": min(1.0, float(entry.get("confidence") or 0.0) / rest)}
        for entry in others
    ]
    if below_thresholds(rescaled, threshold, ambiguity):
        kept = _kept_decline(rescaled, threshold, ambiguity, decline_min)
        if kept is not None:
            return kept
        fallback = {"name": FALLBACK, "confidence": threshold}
        return Decision(FALLBACK, threshold, [fallback, *rescaled])
    return Decision(str(rescaled[0]["name"]), rescaled[0]["confidence"], rescaled)


def _kept_decline(
    ranking: list[dict[str, Any]], threshold: float, ambiguity: float, decline_min: float
) -> Decision | None:
    """The classifier's own decline, where the FallbackClassifier would have dropped it."""
    if not ranking or ranking[0].get("name") not in DECLINES:
        return None
    confidence = float(ranking[0].get("confidence") or 0.0)
    if confidence < decline_min or not below_thresholds(ranking, threshold, ambiguity):
        return None
    return Decision(str(ranking[0]["name"]), confidence, ranking)
