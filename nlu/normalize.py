"""Normalise everyday Indonesian chat text: slang, abbreviations, typos, elongations.

Pure Python (no Rasa import) so the gateway can use the same rules as the NLU
pipeline. Every rewrite keeps a map from old character offsets to new ones, so
entity annotations on training examples can be moved with the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = ["Normalized", "SlangDictionary", "normalize"]

DEFAULT_DICTIONARY = Path(__file__).parent / "data" / "slang.yml"

# Words, numbers and single other characters; whitespace is kept as-is between them.
_TOKEN = re.compile(r"\d+(?:[./:-]\d+)+|[^\W_]+|\S", re.UNICODE)
_RUN_OF_THREE = re.compile(r"(.)\1{2,}")
_REDUPLICATION = re.compile(r"^([^\W\d_]{2,})2$")
_NUMBER_THEN_WORD = re.compile(r"^(\d+)([^\W\d_]{2,})$")


@dataclass(frozen=True)
class Normalized:
    """Normalised text, and where each original token went."""

    text: str
    # One (old start, old end, new start, new end) per token, in order.
    spans: tuple[tuple[int, int, int, int], ...]

    def map_start(self, old: int) -> int:
        """New offset for an old start offset (inside a token: that token's start)."""
        for _, old_end, new_start, _ in self.spans:
            if old_end > old:
                return new_start
        return len(self.text)

    def original_start(self, new: int) -> int:
        """Offset in the original text for a start offset in the normalised text."""
        for old_start, _, _, new_end in self.spans:
            if new_end > new:
                return old_start
        return self.spans[-1][1] if self.spans else 0

    def original_end(self, new: int) -> int:
        """Offset in the original text for an end offset in the normalised text."""
        old = 0
        for _, old_end, new_start, _ in self.spans:
            if new_start >= new:
                break
            old = old_end
        return old

    def map_end(self, old: int) -> int:
        """New offset for an old end offset (inside a token: that token's end)."""
        new = 0
        for old_start, _, _, new_end in self.spans:
            if old_start >= old:
                break
            new = new_end
        return new


class SlangDictionary:
    """Token -> standard form(s), loaded from a YAML data file."""

    def __init__(self, words: dict[str, str], keep: frozenset[str] = frozenset()) -> None:
        self.words = {key.lower(): value.lower() for key, value in words.items()}
        self.keep = keep

    @classmethod
    def load(cls, path: Path | str = DEFAULT_DICTIONARY) -> SlangDictionary:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        words = data.get("words") or {}
        if not isinstance(words, dict):
            raise ValueError(f"{path}: 'words' must be a mapping")
        keep = frozenset(str(word).lower() for word in data.get("keep") or [])
        return cls({str(k): str(v) for k, v in words.items()}, keep)

    def rewrite(self, token: str) -> str:
        """The standard form of one lowercase token."""
        if token in self.keep:
            return token
        if token in self.words:
            return self.words[token]
        squeezed = _squeeze(token)
        if squeezed != token:
            return self.words.get(squeezed, squeezed)
        reduplicated = _REDUPLICATION.match(token)
        if reduplicated:
            word = self.rewrite(reduplicated.group(1))
            return f"{word} {word}"
        number_word = _NUMBER_THEN_WORD.match(token)
        if number_word:
            number, word = number_word.groups()
            return f"{number} {self.rewrite(word)}"
        return token


def _squeeze(token: str) -> str:
    """Collapse letters typed three or more times ("tolonggg", "halooo", "maaaf")."""
    if not _RUN_OF_THREE.search(token):
        return token
    squeezed = _RUN_OF_THREE.sub(r"\1\1", token)
    # Indonesian words do not end in a doubled letter: "halooo" -> "haloo" -> "halo".
    if len(squeezed) > 2 and squeezed[-1] == squeezed[-2]:
        squeezed = squeezed[:-1]
    return squeezed


def normalize(text: str, dictionary: SlangDictionary) -> Normalized:
    """Lowercase, rewrite each token through the dictionary, collapse whitespace."""
    pieces: list[str] = []
    spans: list[tuple[int, int, int, int]] = []
    length = 0
    for match in _TOKEN.finditer(text):
        if pieces:
            pieces.append(" ")
            length += 1
        rewritten = dictionary.rewrite(match.group().lower())
        pieces.append(rewritten)
        spans.append((match.start(), match.end(), length, length + len(rewritten)))
        length += len(rewritten)
    return Normalized("".join(pieces), tuple(spans))
