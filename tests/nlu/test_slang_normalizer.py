from __future__ import annotations

from typing import Any, Dict

import pytest
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.slang_normalizer import SlangNormalizer


@pytest.fixture
def normalizer(component_kwargs: Dict[str, Any]) -> SlangNormalizer:
    return SlangNormalizer.create(SlangNormalizer.get_default_config(), **component_kwargs)


@pytest.fixture
def focusing(component_kwargs: Dict[str, Any]) -> SlangNormalizer:
    config = {**SlangNormalizer.get_default_config(), "focus": "question"}
    return SlangNormalizer.create(config, **component_kwargs)


def village_example(text: str) -> Message:
    """A training example annotated with the village name "Lambale"."""
    start = text.index("Lambale")
    return Message(
        data={
            "text": text,
            "intent": "ask_posyandu_schedule",
            "entities": [{"entity": "desa", "start": start, "end": start + 7, "value": "Lambale"}],
        }
    )


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("gmn cara cegah dbd", "bagaimana cara cegah dbd"),
        ("bumil gak boleh makan apa", "ibu hamil tidak boleh makan apa"),
        ("jadwal imun yg lengkap", "jadwal imunisasi yang lengkap"),
    ],
)
def test_process_rewrites_slang(normalizer: SlangNormalizer, typed: str, expected: str) -> None:
    [message] = normalizer.process([Message(data={"text": typed})])
    assert message.get("text") == expected
    assert message.get("original_text") == typed


def test_button_payloads_are_left_alone(normalizer: SlangNormalizer) -> None:
    [message] = normalizer.process([Message(data={"text": "/imunisasi.kipi"})])
    assert message.get("text") == "/imunisasi.kipi"


def test_entity_offsets_move_with_the_text(normalizer: SlangNormalizer) -> None:
    text = "jadwal posy yg di desa Lambale kpn"
    example = village_example(text)
    normalizer.process_training_data(TrainingData([example]))
    [entity] = example.get("entities")
    assert example.get("text")[entity["start"] : entity["end"]] == "lambale"
    assert entity["value"] == "lambale"


def test_synonym_values_are_kept(normalizer: SlangNormalizer) -> None:
    example = Message(
        data={
            "text": "posy kec Kulisusu Utra",
            "entities": [{"entity": "kecamatan", "start": 9, "end": 22, "value": "Kulisusu Utara"}],
        }
    )
    normalizer.process_training_data(TrainingData([example]))
    [entity] = example.get("entities")
    assert example.get("text")[entity["start"] : entity["end"]] == "kulisusu utra"
    assert entity["value"] == "Kulisusu Utara"


def test_fingerprint_changes_with_the_dictionary(tmp_path: Any) -> None:
    dictionary = tmp_path / "slang.yml"
    dictionary.write_text("words:\n  gk: tidak\n")
    before = SlangNormalizer.fingerprint_addon({"dictionary": str(dictionary)})
    dictionary.write_text("words:\n  gk: tidak\n  yg: yang\n")
    assert SlangNormalizer.fingerprint_addon({"dictionary": str(dictionary)}) != before


def test_restorer_puts_back_the_typed_text_and_entity_offsets(
    normalizer: SlangNormalizer, component_kwargs: Dict[str, Any]
) -> None:
    from nlu.text_restorer import OriginalTextRestorer

    typed = "yg di kec Kulisusu Barat"
    [message] = normalizer.process([Message(data={"text": typed})])
    normalized = message.get("text")
    start = normalized.index("kulisusu")
    message.set(
        "entities",
        [{"entity": "kecamatan", "start": start, "end": start + 14, "value": "kulisusu barat"}],
    )
    restorer = OriginalTextRestorer.create({}, **component_kwargs)
    [restored] = restorer.process([message])
    [entity] = restored.get("entities")
    assert restored.get("text") == typed
    assert typed[entity["start"] : entity["end"]] == "Kulisusu Barat"


def test_long_messages_are_focused_but_the_whole_text_is_kept(focusing: SlangNormalizer) -> None:
    text = "Halo dok. Anak sy 2 thn. Tadi kejang. Imunisasi apa yg kurang ya? Makasih dok."
    [message] = focusing.process([Message(data={"text": text})])
    assert message.get("text") == "tadi kejang . imunisasi apa yang kurang ya ?"
    assert message.get("normalized_text").startswith(
        "halo dokter . anak saya 2 tahun . tadi kejang"
    )
    assert message.get("original_text") == text


def test_annotated_training_examples_are_never_cut(focusing: SlangNormalizer) -> None:
    text = "Halo. Saya di desa Lambale. Posyandu kapan? Makasih."
    example = village_example(text)
    focusing.process_training_data(TrainingData([example]))
    assert example.get("text").startswith("halo . saya di desa lambale")


def test_unknown_focus_mode_is_refused(component_kwargs: Dict[str, Any]) -> None:
    config = {**SlangNormalizer.get_default_config(), "focus": "all"}
    with pytest.raises(ValueError, match="focus"):
        SlangNormalizer.create(config, **component_kwargs)
