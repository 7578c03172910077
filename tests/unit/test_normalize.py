import pytest

from nlu.normalize import SlangDictionary, normalize


@pytest.fixture(scope="module")
def dictionary() -> SlangDictionary:
    return SlangDictionary.load()


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("gak", "tidak"),
        ("nggak", "tidak"),
        ("ga", "tidak"),
        ("gmn", "bagaimana"),
        ("yg", "yang"),
        ("bumil", "ibu hamil"),
        ("imun", "imunisasi"),
        ("posy", "posyandu"),
    ],
)
def test_common_slang_becomes_standard_indonesian(
    dictionary: SlangDictionary, typed: str, expected: str
) -> None:
    assert normalize(typed, dictionary).text == expected


def test_sentence_is_lowercased_and_rewritten_word_by_word(dictionary: SlangDictionary) -> None:
    result = normalize("Bumil GAK boleh makan yg mentah ya??", dictionary)
    assert result.text == "ibu hamil tidak boleh makan yang mentah ya ? ?"


def test_elongated_words_are_squeezed(dictionary: SlangDictionary) -> None:
    assert normalize("halooo tolonggg", dictionary).text == "halo tolong"


def test_reduplication_with_two_is_spelled_out(dictionary: SlangDictionary) -> None:
    assert normalize("anak2 kejang2", dictionary).text == "anak anak kejang kejang"


def test_number_glued_to_unit_is_split(dictionary: SlangDictionary) -> None:
    assert normalize("anak 4bln", dictionary).text == "anak 4 bulan"


def test_protected_words_are_kept(dictionary: SlangDictionary) -> None:
    assert normalize("asi mpasi ttd dbd tbc", dictionary).text == "asi mpasi ttd dbd tbc"


def test_offsets_follow_the_rewritten_text(dictionary: SlangDictionary) -> None:
    text = "posy di desa Lambale kpn"
    result = normalize(text, dictionary)
    start, end = text.index("Lambale"), text.index("Lambale") + len("Lambale")
    assert result.text[result.map_start(start) : result.map_end(end)] == "lambale"


def test_entity_glued_to_punctuation_keeps_exact_bounds(dictionary: SlangDictionary) -> None:
    text = "lahir 20/11/2024, tolong daftarkan"
    start, end = text.index("20"), text.index(",")
    result = normalize(text, dictionary)
    assert result.text[result.map_start(start) : result.map_end(end)] == "20/11/2024"


def test_custom_dictionary_is_used() -> None:
    custom = SlangDictionary({"bgt": "banget"})
    assert normalize("capek bgt", custom).text == "capek banget"


def test_empty_text_stays_empty(dictionary: SlangDictionary) -> None:
    assert normalize("", dictionary).text == ""
