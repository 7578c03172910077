import pytest

from nlu.emergency import EmergencyRules
from nlu.normalize import SlangDictionary, normalize


@pytest.fixture(scope="module")
def rules() -> EmergencyRules:
    return EmergencyRules.load()


@pytest.fixture(scope="module")
def dictionary() -> SlangDictionary:
    return SlangDictionary.load()


def sign(rules: EmergencyRules, dictionary: SlangDictionary, text: str) -> str | None:
    return rules.first_match(normalize(text, dictionary).text, text.lower())


@pytest.mark.parametrize(
    "text",
    [
        "istri sy hamil 7 bln keluar darah banyak",
        "bumil pendarahan tolong",
        "ketuban pecah padahal baru 8 bulan",
        "anak saya kejang2 dari tadi",
        "bayi gak napas",
        "bibir anak biru bgt",
        "bapak tiba2 pingsan",
        "anak dbd muntah terus dan mimisan",
        "diare dari pagi skrg lemes bgt gak mau minum",
        "aku pengen bunuh diri aja",
        "rasanya pengen mati aja",
        "mulut bapak mencong ngomongnya pelo",
        "dada sakit banget kayak ditindih",
        "anak kecil minum baygon",
        "ANAK SAYA KEJANG, imunisasi apa ya?",
        "hamil 6 bulan sakit kepala hebat pandangan kabur",
        "seminggu setelah melahirkan darahnya masih ngucur deras",
        "habis persalinan kemarin darah nifas keluar banyak sekali",
        "hamil muda darah yg keluar menggumpal",
    ],
)
def test_danger_signs_are_caught(
    rules: EmergencyRules, dictionary: SlangDictionary, text: str
) -> None:
    assert sign(rules, dictionary, text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "apa aja tanda bahaya kehamilan?",
        "gejala dbd apa aja",
        "cara mencegah demam berdarah",
        "jadwal imunisasi bayi lengkap",
        "ibu hamil perlu minum tablet tambah darah berapa",
        "lagi stres kerjaan gmn ngatasinnya",
        "harga bitcoin berapa",
        "nomor ambulans berapa",
        "cara atasi diare anak",
        "darah nifas normalnya keluar berapa hari",
    ],
)
def test_information_questions_are_not_emergencies(
    rules: EmergencyRules, dictionary: SlangDictionary, text: str
) -> None:
    assert sign(rules, dictionary, text) is None


def test_sign_names_say_what_was_found(rules: EmergencyRules) -> None:
    assert rules.first_match("anak saya kejang") == "kejang"
    assert rules.first_match("mau bunuh diri") == "bunuh_diri"
