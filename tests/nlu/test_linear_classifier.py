from __future__ import annotations

from typing import Any, Dict

import pytest
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.linear import blend
from nlu.linear_classifier import DIET_RANKING, LinearIntentClassifier

EXAMPLES = {
    "imunisasi.jadwal": [
        "jadwal imunisasi bayi kapan saja",
        "imunisasi apa saja untuk bayi 2 bulan",
        "kapan bayi harus imunisasi campak",
        "anak saya belum imunisasi polio",
    ],
    "dbd.pencegahan": [
        "cara mencegah demam berdarah",
        "bagaimana memberantas sarang nyamuk",
        "menguras bak mandi supaya tidak ada jentik",
        "nyamuk aedes bertelur di mana",
    ],
    "out_of_scope": [
        "putar lagu dangdut",
        "besok cuaca hujan tidak",
        "isi pulsa lima puluh ribu",
        "main game bareng yuk",
    ],
}


def training_data() -> TrainingData:
    return TrainingData(
        [
            Message(data={"text": text, "intent": intent})
            for intent, texts in EXAMPLES.items()
            for text in texts
        ]
    )


def trained(component_kwargs: Dict[str, Any], **config: Any) -> LinearIntentClassifier:
    settings = {**LinearIntentClassifier.get_default_config(), **config}
    classifier = LinearIntentClassifier.create(settings, **component_kwargs)
    classifier.train(training_data())
    return classifier


def test_linear_model_alone_ranks_the_asked_topic_first(component_kwargs: Dict[str, Any]) -> None:
    classifier = trained(component_kwargs, weight=1.0)
    message = Message(data={"text": "cara mencegah nyamuk demam berdarah di rumah"})
    classifier.process([message])
    assert message.get("intent")["name"] == "dbd.pencegahan"
    names = [entry["name"] for entry in message.get("intent_ranking")]
    assert sorted(names) == sorted(EXAMPLES)
    assert message.get(DIET_RANKING) is None


def test_blend_moves_an_unsure_diet_guess(component_kwargs: Dict[str, Any]) -> None:
    classifier = trained(component_kwargs, weight=0.5)
    diet = [
        {"name": "imunisasi.jadwal", "confidence": 0.40},
        {"name": "dbd.pencegahan", "confidence": 0.35},
        {"name": "out_of_scope", "confidence": 0.25},
    ]
    message = Message(data={"text": "cara mencegah nyamuk demam berdarah", "intent_ranking": diet})
    classifier.process([message])
    assert message.get("intent")["name"] == "dbd.pencegahan"
    assert message.get(DIET_RANKING) == diet
    confidences = [entry["confidence"] for entry in message.get("intent_ranking")]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) == pytest.approx(1.0, abs=1e-6)


def test_weight_zero_keeps_diet_order(component_kwargs: Dict[str, Any]) -> None:
    classifier = trained(component_kwargs, weight=0.0)
    diet = [
        {"name": "out_of_scope", "confidence": 0.7},
        {"name": "dbd.pencegahan", "confidence": 0.3},
    ]
    message = Message(data={"text": "cara mencegah demam berdarah", "intent_ranking": diet})
    classifier.process([message])
    assert message.get("intent")["name"] == "out_of_scope"


def test_a_trained_model_survives_saving_and_loading(component_kwargs: Dict[str, Any]) -> None:
    classifier = trained(component_kwargs, weight=1.0)
    settings = {**LinearIntentClassifier.get_default_config(), "weight": 1.0}
    loaded = LinearIntentClassifier.load(settings, **component_kwargs)
    first, second = (Message(data={"text": "isi pulsa dong"}) for _ in range(2))
    classifier.process([first])
    loaded.process([second])
    assert second.get("intent")["name"] == "out_of_scope"
    assert second.get("intent_ranking") == first.get("intent_ranking")


def test_untrained_or_empty_text_leaves_the_message_alone(
    component_kwargs: Dict[str, Any],
) -> None:
    settings = LinearIntentClassifier.get_default_config()
    untrained = LinearIntentClassifier.load(settings, **component_kwargs)
    diet = [{"name": "out_of_scope", "confidence": 0.9}]
    message = Message(data={"text": "halo", "intent_ranking": diet})
    untrained.process([message])
    assert message.get("intent_ranking") == diet
    empty = Message(data={"text": ""})
    trained(component_kwargs).process([empty])
    assert empty.get("intent") is None


def test_weight_outside_zero_to_one_is_refused(component_kwargs: Dict[str, Any]) -> None:
    settings = {**LinearIntentClassifier.get_default_config(), "weight": 1.5}
    with pytest.raises(ValueError):
        LinearIntentClassifier.create(settings, **component_kwargs)


def test_blend_counts_an_intent_missing_from_one_ranking_as_zero() -> None:
    mixed = blend(
        [{"name": "a", "confidence": 0.6}, {"name": "b", "confidence": 0.4}],
        [{"name": "c", "confidence": 0.9}, {"name": "a", "confidence": 0.1}],
        0.5,
    )
    assert [(e["name"], round(e["confidence"], 3)) for e in mixed] == [
        ("c", 0.45),
        ("a", 0.35),
        ("b", 0.2),
    ]


def test_a_flattened_diet_no_longer_outvotes_a_sure_linear_model() -> None:
    # DIET sure of the decline on one unusual word, the linear model fairly sure of the topic:
    # as they are, the decline wins; with DIET flattened, the topic does.
    diet = [
        {"name": "out_of_scope_health", "confidence": 0.998},
        {"name": "ptm.diabetes", "confidence": 0.001},
        {"name": "ptm.hipertensi", "confidence": 0.001},
    ]
    linear = [
        {"name": "ptm.diabetes", "confidence": 0.62},
        {"name": "out_of_scope_health", "confidence": 0.33},
        {"name": "ptm.hipertensi", "confidence": 0.05},
    ]
    assert blend(diet, linear, 0.75)[0]["name"] == "out_of_scope_health"
    flattened = blend(diet, linear, 0.75, temperature=5.0)
    assert flattened[0]["name"] == "ptm.diabetes"
    assert sum(e["confidence"] for e in flattened) == pytest.approx(1.0, abs=1e-6)


def test_temperature_keeps_diet_order_and_refuses_zero(component_kwargs: Dict[str, Any]) -> None:
    diet = [{"name": "a", "confidence": 0.9}, {"name": "b", "confidence": 0.1}]
    alone = blend(diet, [], 0.0, temperature=3.0)
    assert [e["name"] for e in alone] == ["a", "b"]
    assert 0.5 < alone[0]["confidence"] < 0.9
    settings = {**LinearIntentClassifier.get_default_config(), "diet_temperature": 0.0}
    with pytest.raises(ValueError):
        LinearIntentClassifier.create(settings, **component_kwargs)
