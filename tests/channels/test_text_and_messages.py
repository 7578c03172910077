"""Splitting long replies and the channel-neutral message type."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.channels.message import Choice, Inbound, Outbound
from bot.channels.text import split_message

WORDS = st.text(alphabet="abcdeiklmnoprstuy", min_size=1, max_size=12)
SENTENCES = st.lists(WORDS, min_size=1, max_size=20).map(lambda ws: " ".join(ws) + ".")
PARAGRAPHS = st.lists(SENTENCES, min_size=1, max_size=8).map(" ".join)
TEXTS = st.lists(PARAGRAPHS, min_size=1, max_size=6).map("\n\n".join)


@given(TEXTS, st.integers(min_value=15, max_value=400))
def test_parts_fit_the_limit_and_lose_no_words(text: str, limit: int) -> None:
    parts = split_message(text, limit)
    assert all(0 < len(part) <= limit for part in parts)
    assert re.findall(r"\w+", " ".join(parts)) == re.findall(r"\w+", text)


@given(TEXTS)
def test_a_text_that_fits_is_left_alone(text: str) -> None:
    assert split_message(text, len(text)) == [text.strip()]


def test_cuts_fall_on_sentence_ends_when_sentences_fit() -> None:
    text = "Cuci tangan pakai sabun. " * 10 + "Minum air matang."
    parts = split_message(text, 60)
    assert all(part.endswith(".") for part in parts)
    assert parts[0] == "Cuci tangan pakai sabun. Cuci tangan pakai sabun."


def test_a_run_without_spaces_is_cut_hard() -> None:
    assert split_message("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_rasa_buttons_without_text_join_the_previous_reply() -> None:
    replies = Outbound.from_rasa(
        [
            {"text": "Pilih kecamatan:"},
            {"buttons": [{"title": "Kulisusu", "payload": "/pilih"}]},
            {"image": "https://example.invalid/x.png"},
            {"text": "  "},
        ]
    )
    assert replies == [Outbound("Pilih kecamatan:", [Choice("Kulisusu", "/pilih")])]


def test_inbound_survives_the_inbox_and_says_what_rasa_reads() -> None:
    location = Inbound("whatsapp", "62812", "62812", "wamid.X", "location", lat=-4.7, lon=123.1)
    assert Inbound.from_json(location.to_json()) == location
    assert location.sender_id == "wa:62812"
    assert location.rasa_text() == '/share_location{"lat": -4.7, "lon": 123.1}'
    button = Inbound("telegram", "9", "9", "1", "button", payload="/affirm")
    assert (button.sender_id, button.rasa_text()) == ("tg:9", "/affirm")
