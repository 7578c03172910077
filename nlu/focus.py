"""Long, polite messages: keep what they ask, drop the greeting, the story's tail and the thanks.

"Selamat malam dok. Saya ibu 2 anak, yang kecil 9 bulan. Kemarin di posyandu
katanya beratnya tidak naik. Apakah ini tanda stunting? Terima kasih dok."
is classified on "kemarin di posyandu katanya beratnya tidak naik . apakah ini
tanda stunting ?": the question sentence and the sentence just before it.

Works on the slang normaliser's output (a `Normalized`: one span per token), so
entity offsets can still be mapped back onto the typed text. Pure Python.
Measured (`make bench-focus`) and switched off in config.yml: on our held-out sets
every cut made long questions worse (the story names the subject: "ASI saya
sedikit ... bagaimana caranya?" asks about ASI only in its story). Kept, with
the benchmark, for when the data changes. Modes:
- `off`: the text as normalised;
- `strip`: greeting, thanks and sign-off sentences dropped;
- `question`: as `strip`, then only the question sentences and the one before
  the first of them (the story's last sentence usually names the subject).
"""

from __future__ import annotations

from nlu.normalize import Normalized

__all__ = ["MODES", "focus"]

MODES = ("off", "strip", "question")

_ENDS = frozenset({".", "!", "?", ";"})


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Words that make up greetings, thanks and sign-offs ("Selamat malam dok",
# "Terima kasih sebelumnya bu bidan", "Mohon pencerahannya").
_POLITE = _word_set(
    """
    halo hallo hai hi hey helo pagi siang sore malam selamat assalamualaikum assalamu alaikum
    wr wb warahmatullahi wabarakatuh salam sejahtera permisi punten maaf mohon terima kasih
    makasih trims thanks thank you banyak sebelumnya atas jawabannya jawaban pencerahannya
    pencerahan bantuannya infonya dok dokter dr bu ibu bidan pak bapak kak kakak min admin mimin
    bund bunda sus suster mas mbak mba nya ya yah ya ok oke sehat selalu tuhan memberkati
    semoga berkah wassalam wassalamualaikum regards hormat saya kawan
    """
)
_QUESTION_WORDS = _word_set(
    """
    apa apakah apa saja bagaimana berapa kapan mana dimana kemana mengapa kenapa siapa
    bolehkah bisakah perlukah haruskah adakah benarkah amankah normalkah bahayakah boleh
    bisa perlu harus aman normal bahaya wajar sebaiknya tolong mohon
    """
)
_MIN_SENTENCES = 3


def _tokens(result: Normalized) -> list[str]:
    """One entry per typed token (a token may have become several words: "bumil")."""
    return [result.text[new_start:new_end] for _, _, new_start, new_end in result.spans]


def _sentences(result: Normalized, original: str) -> list[list[int]]:
    """Token indexes per sentence: split after . ! ? ; and at line breaks as typed."""
    tokens = _tokens(result)
    groups: list[list[int]] = [[]]
    for index, token in enumerate(tokens):
        if index and groups[-1]:
            previous_end = result.spans[index - 1][1]
            if "\n" in original[previous_end : result.spans[index][0]]:
                groups.append([])
        groups[-1].append(index)
        if token in _ENDS:
            groups.append([])
    return [group for group in groups if group]


def _words(result: Normalized, group: list[int]) -> list[str]:
    tokens = _tokens(result)
    words = [word for i in group for word in tokens[i].split(" ")]
    return [word for word in words if word not in _ENDS and word not in {",", ":", "-"}]


def _is_polite(words: list[str]) -> bool:
    return bool(words) and all(word in _POLITE for word in words)


def _is_question(result: Normalized, group: list[int]) -> bool:
    tokens = _tokens(result)
    words = {word for i in group for word in tokens[i].split(" ")}
    return "?" in words or bool(words & _QUESTION_WORDS)


def focus(result: Normalized, original: str, mode: str = "question") -> Normalized:
    """The part of a normalised message to classify; short messages are returned as they are."""
    if mode == "off" or not result.text:
        return result
    if mode not in MODES:
        raise ValueError(f"unknown focus mode {mode!r}; one of {MODES}")
    groups = _sentences(result, original)
    if len(groups) < _MIN_SENTENCES:
        return result
    kept = [g for g in groups if not _is_polite(_words(result, g))]
    if mode == "question":
        asked = [i for i, g in enumerate(kept) if _is_question(result, g)]
        if asked:
            first = max(0, asked[0] - 1)
            kept = [g for i, g in enumerate(kept) if i >= first and (i == first or i in asked)]
    if not kept or len(kept) == len(groups):
        return result
    return _subset(result, [index for group in kept for index in group])


def _subset(result: Normalized, indexes: list[int]) -> Normalized:
    """The normalised text of some tokens, with their spans into the typed text."""
    tokens = _tokens(result)
    pieces: list[str] = []
    spans: list[tuple[int, int, int, int]] = []
    length = 0
    for index in indexes:
        if pieces:
            pieces.append(" ")
            length += 1
        token = tokens[index]
        old_start, old_end, _, _ = result.spans[index]
        pieces.append(token)
        spans.append((old_start, old_end, length, length + len(token)))
        length += len(token)
    return Normalized("".join(pieces), tuple(spans))
