"""Rasa component: danger signs override the classifier's intent with `emergency`.

Runs last, after the FallbackClassifier and the OriginalTextRestorer. It reads
the whole message (as typed, and normalised before any focusing), so a danger
sign anywhere in a long message is found. The classifier's ranking is kept
after the emergency entry, so the emergency action can still answer the
question the message also asked.

The classifier's own `emergency` guesses are judged too (see the class).
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
from nlu.emergency import (
    CLASSIFIER_EMERGENCY_MIN,
    DECLINE_MIN,
    DEFAULT_RULES,
    FALLBACK,
    EmergencyRules,
    decide,
)
from nlu.slang_normalizer import NORMALIZED_TEXT, ORIGINAL_TEXT

EMERGENCY_INTENT = "emergency"
EMERGENCY_SIGN = "emergency_sign"
EMERGENCY_KIND = "emergency_kind"
# The classifier's ranking as it was before this component, for benchmarks and audits.
CLASSIFIER_RANKING = "classifier_ranking"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class EmergencyDetector(DataFileComponent):
    """Sets intent `emergency` (confidence 1.0) when a danger sign is described.

    Also judges the classifier's own `emergency` guesses (nlu.emergency.decide):
    kept when confident and the rules know no such words, dropped when the rules
    saw the words and said no or the guess is unsure. `threshold` and
    `ambiguity_threshold` must equal the FallbackClassifier's (a test checks).
    """

    data_key = "rules"
    rule_modules = ("emergency",)

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "rules": str(DEFAULT_RULES),
            "threshold": 0.45,
            "ambiguity_threshold": 0.05,
            "classifier_min": CLASSIFIER_EMERGENCY_MIN,
            "decline_min": DECLINE_MIN,
        }

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        self._rules = EmergencyRules.load(config["rules"])
        self._threshold = float(config["threshold"])
        self._ambiguity = float(config["ambiguity_threshold"])
        self._classifier_min = float(config["classifier_min"])
        self._decline_min = float(config.get("decline_min", DECLINE_MIN))

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._judge(message)
        return messages

    def _judge(self, message: Message) -> None:
        text = message.get(TEXT) or ""
        texts = [message.get(NORMALIZED_TEXT) or "", message.get(ORIGINAL_TEXT) or "", text]
        ranking = [
            entry
            for entry in message.get(INTENT_RANKING_KEY) or []
            if entry.get(INTENT_NAME_KEY) != FALLBACK
        ]
        found = self._rules.match(*texts)
        considered = found is not None or self._rules.considered(*texts)
        decision = decide(
            ranking,
            found,
            considered,
            self._threshold,
            self._ambiguity,
            self._classifier_min,
            self._decline_min,
        )
        if decision is None:
            return
        message.set(CLASSIFIER_RANKING, ranking[:5], add_to_output=True)
        top = {INTENT_NAME_KEY: decision.intent, PREDICTED_CONFIDENCE_KEY: decision.confidence}
        message.set(INTENT, top, add_to_output=True)
        message.set(INTENT_RANKING_KEY, decision.ranking, add_to_output=True)
        if decision.intent != EMERGENCY_INTENT:
            return
        sign = found.sign if found is not None else "classifier"
        message.set(EMERGENCY_SIGN, sign, add_to_output=True)
        entities = [
            entity
            for entity in message.get(ENTITIES) or []
            if entity.get(ENTITY_ATTRIBUTE_TYPE) != EMERGENCY_KIND
        ]
        entities.append(
            {
                ENTITY_ATTRIBUTE_TYPE: EMERGENCY_KIND,
                ENTITY_ATTRIBUTE_VALUE: decision.kind,
                ENTITY_ATTRIBUTE_START: 0,
                ENTITY_ATTRIBUTE_END: len(text),
                EXTRACTOR: type(self).__name__,
            }
        )
        message.set(ENTITIES, entities, add_to_output=True)
