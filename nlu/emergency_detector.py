"""Rasa component: danger signs override the classifier's intent with `emergency`.

Runs after the FallbackClassifier. The classifier's ranking is kept after the
emergency entry, so the emergency action can still answer the question the
message also asked.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message

from nlu.data_file_component import DataFileComponent
from nlu.emergency import DEFAULT_RULES, EmergencyRules
from nlu.slang_normalizer import ORIGINAL_TEXT

EMERGENCY_INTENT = "emergency"
EMERGENCY_SIGN = "emergency_sign"


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
            texts = [message.get(TEXT) or "", message.get(ORIGINAL_TEXT) or ""]
            sign = self._rules.first_match(*texts)
            if sign is None:
                continue
            ranking = [
                entry
                for entry in message.get(INTENT_RANKING_KEY) or []
                if entry.get(INTENT_NAME_KEY) != EMERGENCY_INTENT
            ]
            top = {INTENT_NAME_KEY: EMERGENCY_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
            message.set(INTENT, top, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [top, *ranking], add_to_output=True)
            message.set(EMERGENCY_SIGN, sign, add_to_output=True)
        return messages
