"""Long, polite messages are classified on what they ask (nlu/focus.py)."""

import pytest

from nlu.focus import focus
from nlu.normalize import SlangDictionary, normalize


@pytest.fixture(scope="module")
def dictionary() -> SlangDictionary:
    return SlangDictionary.load()


def focused(text: str, dictionary: SlangDictionary, mode: str = "question") -> str:
    return focus(normalize(text, dictionary), text, mode).text


def test_greeting_story_and_thanks_give_way_to_the_question(dictionary: SlangDictionary) -> None:
    text = (
        "Selamat malam dok. Saya ibu 2 anak, yg kecil 9 bln. Kami tinggal di desa. "
        "Kemarin di posyandu katanya BB-nya gak naik. Apakah ini tanda stunting? "
        "Terima kasih dok."
    )
    assert focused(text, dictionary) == (
        "kemarin di posyandu katanya bb - nya tidak naik . apakah ini tanda stunting ?"
    )


def test_strip_mode_keeps_the_story(dictionary: SlangDictionary) -> None:
    text = "Halo bu bidan\nsaya bumil 20 minggu\nmau tanya ttd diminum kapan ya\nmakasih"
    assert focused(text, dictionary, "strip") == (
        "saya ibu hamil 20 minggu mau tanya ttd diminum kapan ya"
    )


@pytest.mark.parametrize(
    "text", ["jadwal imunisasi bcg kapan", "Halo dok. Anak saya demam, perlu ke mana?"]
)
def test_short_messages_are_untouched(dictionary: SlangDictionary, text: str) -> None:
    assert focused(text, dictionary) == normalize(text, dictionary).text


def test_off_mode_changes_nothing(dictionary: SlangDictionary) -> None:
    text = "Halo dok. Saya hamil. Boleh minum kopi? Makasih."
    assert focused(text, dictionary, "off") == normalize(text, dictionary).text


def test_a_story_without_a_question_keeps_every_sentence_but_the_polite_ones(
    dictionary: SlangDictionary,
) -> None:
    text = "Assalamualaikum dok. Anak sy batuk 3 minggu. Ada keringat malam. Terima kasih."
    assert focused(text, dictionary) == ("anak saya batuk 3 minggu . ada keringat malam .")


def test_offsets_still_point_into_the_typed_text(dictionary: SlangDictionary) -> None:
    text = "Halo min. Saya dari Buton Utara. Posyandu di desa Lambale kapan ya? Makasih."
    result = focus(normalize(text, dictionary), text)
    start = result.text.index("lambale")
    assert text[result.original_start(start) : result.original_end(start + 7)] == "Lambale"


def test_unknown_mode_is_refused(dictionary: SlangDictionary) -> None:
    with pytest.raises(ValueError, match="focus mode"):
        focus(normalize("a. b. c.", dictionary), "a. b. c.", "everything")
