"""Splitting long replies for channels with a message size limit."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?…:])\s+")


def split_message(text: str, limit: int) -> list[str]:
    """Parts of at most `limit` characters, cut at paragraphs, then sentences, then words.

    Short texts come back whole. Nothing is dropped except the whitespace at a cut.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    pieces: list[tuple[str, str]] = []  # (separator before the piece, piece)
    for paragraph in re.split(r"\n\s*\n", text):
        for index, piece in enumerate(_fit(paragraph.strip(), limit)):
            pieces.append(("\n\n" if index == 0 else " ", piece))
    return _pack(pieces, limit)


def _fit(paragraph: str, limit: int) -> list[str]:
    """A paragraph as pieces no longer than `limit`, separated by sentence or word."""
    if len(paragraph) <= limit:
        return [paragraph] if paragraph else []
    out: list[str] = []
    for sentence in _SENTENCE_END.split(paragraph):
        if len(sentence) <= limit:
            out.append(sentence)
            continue
        # Words, with any unbroken run longer than a message cut into message-sized chunks.
        words = sentence.split(" ")
        chunks = [w[i : i + limit] for w in words for i in range(0, max(len(w), 1), limit)]
        out.extend(_pack([(" ", chunk) for chunk in chunks], limit))
    return [p for p in out if p]


def _pack(pieces: list[tuple[str, str]], limit: int) -> list[str]:
    """Join consecutive pieces while they fit, with their own separators."""
    parts: list[str] = []
    current = ""
    for separator, piece in pieces:
        candidate = f"{current}{separator}{piece}" if current else piece
        if len(candidate) <= limit:
            current = candidate
        else:
            parts.append(current)
            current = piece
    if current:
        parts.append(current)
    return parts
