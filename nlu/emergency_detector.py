"""Rasa component: danger signs override the classifier's intent with `emergency`.

Runs last, after the FallbackClassifier and the OriginalTextRestorer. It reads
the whole message (as typed, and normalised before any focusing), so a danger
sign anywhere in a long message is found. The classifier's ranking is kept
after the emergency entry, so the emergency action can still answer the
question the message also asked.

It also adds the entity `emergency_kind` (`umum` or `jiwa`, spanning the
message) that fills the slot of the same name: `utter_emergency` has a caring
variation with a mental-health service for self-harm and suicide wording.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    EXTRACTOR,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from nlu.data_file_component import DataFileComponent
from nlu.emergency import DEFAULT_RULES, EmergencyRules
from nlu.slang_normalizer import NORMALIZED_TEXT, ORIGINAL_TEXT

EMERGENCY_INTENT = "emergency"
EMERGENCY_SIGN = "emergency_sign"
EMERGENCY_KIND = "emergency_kind"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class EmergencyDetector(DataFileComponent):
    """Sets intent `emergency` (confidence 1.0) when a danger sign is described."""

    data_key = "rules"
    rule_modules = ("emergency",)

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"rules": str(DEFAULT_RULES)}

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        self._rules = EmergencyRules.load(config["rules"])

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            texts = [
                message.get(NORMALIZED_TEXT) or "",
                message.get(ORIGINAL_TEXT) or "",
                text,
            ]
            found = self._rules.match(*texts)
            if found is None:
                continue
            ranking = [
                entry
                for entry in message.get(INTENT_RANKING_KEY) or []
                if entry.get(INTENT_NAME_KEY) != EMERGENCY_INTENT
            ]
            top = {INTENT_NAME_KEY: EMERGENCY_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
            message.set(INTENT, top, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [top, *ranking], add_to_output=True)
            message.set(EMERGENCY_SIGN, found.sign, add_to_output=True)
            entities = [
                entity
                for entity in message.get(ENTITIES) or []
                if entity.get(ENTITY_ATTRIBUTE_TYPE) != EMERGENCY_KIND
            ]
            entities.append(
                {
                    ENTITY_ATTRIBUTE_TYPE: EMERGENCY_KIND,
                    ENTITY_ATTRIBUTE_VALUE: found.reply,
                    ENTITY_ATTRIBUTE_START: 0,
                    ENTITY_ATTRIBUTE_END: len(text),
                    EXTRACTOR: type(self).__name__,
                }
            )
            message.set(ENTITIES, entities, add_to_output=True)
        return messages
