"""Rasa component: rewrite informal Indonesian before tokenising (see nlu/normalize.py)."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_VALUE,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.data_file_component import DataFileComponent
from nlu.focus import MODES, focus
from nlu.normalize import DEFAULT_DICTIONARY, SlangDictionary, normalize

ORIGINAL_TEXT = "original_text"
NORMALIZATION_SPANS = "normalization_spans"
# The whole message, normalised: what the emergency rules read, whatever was focused.
NORMALIZED_TEXT = "normalized_text"
INTENT_PAYLOAD_PREFIX = "/"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SlangNormalizer(DataFileComponent):
    """Replaces slang, abbreviations and common misspellings from a data file.

    With `focus` other than `off`, a long message (three sentences or more) is
    then cut down to what it asks (nlu/focus.py); training examples with entity
    annotations are never cut.
    """

    data_key = "dictionary"
    rule_modules = ("normalize", "focus")

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"dictionary": str(DEFAULT_DICTIONARY), "focus": "off"}

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        self._dictionary = SlangDictionary.load(config["dictionary"])
        self._focus = str(config.get("focus") or "off")
        if self._focus not in MODES:
            raise ValueError(f"SlangNormalizer: focus must be one of {MODES}, not {self._focus!r}")

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._normalize_message(example)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._normalize_message(message)
        return messages

    def _normalize_message(self, message: Message) -> None:
        text = message.get(TEXT)
        if not text or text.startswith(INTENT_PAYLOAD_PREFIX):
            return  # empty, or a button payload such as "/imunisasi.kipi"
        result = normalize(text, self._dictionary)
        message.set(NORMALIZED_TEXT, result.text)
        entities = message.get(ENTITIES) or []
        if not entities:
            result = focus(result, text, self._focus)
        if result.text == text:
            return
        message.set(ORIGINAL_TEXT, text, add_to_output=True)
        message.set(NORMALIZATION_SPANS, result.spans)
        message.set(TEXT, result.text)
        for entity in entities:
            start, end = entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END]
            was_literal = entity.get(ENTITY_ATTRIBUTE_VALUE) == text[start:end]
            entity[ENTITY_ATTRIBUTE_START] = result.map_start(start)
            entity[ENTITY_ATTRIBUTE_END] = result.map_end(end)
            if was_literal:
                new_start, new_end = entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END]
                entity[ENTITY_ATTRIBUTE_VALUE] = result.text[new_start:new_end]
