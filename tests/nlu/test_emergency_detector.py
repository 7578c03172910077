from __future__ import annotations

from typing import Any, Dict

import pytest
from rasa.shared.nlu.training_data.message import Message

from nlu.emergency_detector import EmergencyDetector


@pytest.fixture
def detector(component_kwargs: Dict[str, Any]) -> EmergencyDetector:
    return EmergencyDetector.create(EmergencyDetector.get_default_config(), **component_kwargs)


def classified(text: str, intent: str, confidence: float) -> Message:
    ranking = [{"name": intent, "confidence": confidence}, {"name": "greet", "confidence": 0.01}]
    return Message(
        data={
            "text": text,
            "intent": {"name": intent, "confidence": confidence},
            "intent_ranking": ranking,
        }
    )


def test_danger_sign_overrides_the_classifier_and_keeps_its_ranking(
    detector: EmergencyDetector,
) -> None:
    [message] = detector.process(
        [classified("anak saya kejang imunisasi apa", "imunisasi.jadwal", 0.8)]
    )
    assert message.get("intent") == {"name": "emergency", "confidence": 1.0}
    ranking = message.get("intent_ranking")
    assert [r["name"] for r in ranking[:2]] == ["emergency", "imunisasi.jadwal"]
    assert message.get("emergency_sign") == "kejang"


def test_fallback_is_overridden_too(detector: EmergencyDetector) -> None:
    [message] = detector.process([classified("pengen mati aja rasanya", "nlu_fallback", 0.45)])
    assert message.get("intent")["name"] == "emergency"


def test_ordinary_question_is_untouched(detector: EmergencyDetector) -> None:
    [message] = detector.process([classified("jadwal imunisasi bayi", "imunisasi.jadwal", 0.9)])
    assert message.get("intent") == {"name": "imunisasi.jadwal", "confidence": 0.9}
    assert message.get("emergency_sign") is None


def test_typed_text_is_checked_as_well_as_normalised_text(detector: EmergencyDetector) -> None:
    message = classified("tidak apa apa", "greet", 0.5)
    message.set("original_text", "anak saya kejang")
    [result] = detector.process([message])
    assert result.get("intent")["name"] == "emergency"


def kind(message: Message) -> list[str]:
    return [e["value"] for e in message.get("entities") or [] if e["entity"] == "emergency_kind"]


def test_self_harm_asks_for_the_caring_reply(detector: EmergencyDetector) -> None:
    text = "teman saya barusan self harm, tangannya disilet"
    [message] = detector.process([classified(text, "jiwa.stres", 0.7)])
    assert message.get("intent")["name"] == "emergency"
    assert message.get("emergency_sign") == "bunuh_diri"
    entity = next(e for e in message.get("entities") if e["entity"] == "emergency_kind")
    assert entity["value"] == "jiwa"
    assert (entity["start"], entity["end"]) == (0, len(text))


def test_other_danger_signs_ask_for_the_general_reply(detector: EmergencyDetector) -> None:
    [message] = detector.process([classified("barusan anak sy kejang", "greet", 0.4)])
    assert kind(message) == ["umum"]


def test_the_whole_message_is_read_even_when_nlu_saw_only_the_question(
    detector: EmergencyDetector,
) -> None:
    message = classified("apakah ini tanda stunting ?", "balita.stunting", 0.9)
    message.set(
        "normalized_text",
        "selamat malam dok . tadi anak saya kejang 2 menit . apakah ini tanda stunting ?",
    )
    [result] = detector.process([message])
    assert result.get("intent")["name"] == "emergency"
    assert kind(result) == ["umum"]


def test_no_entity_without_a_danger_sign(detector: EmergencyDetector) -> None:
    [message] = detector.process([classified("mati lampu lagi", "out_of_scope", 0.9)])
    assert message.get("entities") is None
    assert message.get("intent")["name"] == "out_of_scope"


def ranked(text: str, *entries: tuple[str, float]) -> Message:
    ranking = [{"name": name, "confidence": confidence} for name, confidence in entries]
    return Message(data={"text": text, "intent": ranking[0], "intent_ranking": ranking})


def test_confident_classifier_emergency_in_unknown_words_stands(
    detector: EmergencyDetector,
) -> None:
    message = ranked("kuping anak keluar nanah kuning", ("emergency", 0.8), ("greet", 0.1))
    [result] = detector.process([message])
    assert result.get("intent")["name"] == "emergency"
    assert result.get("emergency_sign") == "classifier"
    assert kind(result) == ["umum"]


def test_classifier_emergency_the_rules_rejected_is_dropped(detector: EmergencyDetector) -> None:
    message = ranked(
        "ketawa sampai kejang-kejang nonton video itu",
        ("emergency", 0.9),
        ("out_of_scope", 0.09),
        ("greet", 0.01),
    )
    [result] = detector.process([message])
    assert result.get("intent")["name"] == "out_of_scope"
    assert result.get("emergency_sign") is None
    assert "emergency" not in [r["name"] for r in result.get("intent_ranking")]
    assert result.get("entities") is None


def test_unsure_classifier_emergency_falls_back(detector: EmergencyDetector) -> None:
    message = ranked(
        "cara nenangin diri", ("emergency", 0.5), ("jiwa.stres", 0.26), ("greet", 0.24)
    )
    [result] = detector.process([message])
    assert result.get("intent") == {"name": "nlu_fallback", "confidence": 0.45}
