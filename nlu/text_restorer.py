"""Rasa component: give the message its original text back after NLU.

Runs last. The slang normaliser rewrote the text ("yg di kec kulisusu barat" ->
"yang di kecamatan kulisusu barat"); entities were found in the rewritten text.
This puts the text the user typed back and moves entity offsets onto it, so
offsets point into what the user wrote (as Rasa's tests and the tracker expect).
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_END, ENTITY_ATTRIBUTE_START, TEXT
from rasa.shared.nlu.training_data.message import Message

from nlu.normalize import Normalized
from nlu.slang_normalizer import NORMALIZATION_SPANS, ORIGINAL_TEXT


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class OriginalTextRestorer(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "OriginalTextRestorer":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            original = message.get(ORIGINAL_TEXT)
            spans = message.get(NORMALIZATION_SPANS)
            if not original or spans is None:
                continue
            mapping = Normalized(message.get(TEXT) or "", tuple(spans))
            for entity in message.get(ENTITIES) or []:
                start = mapping.original_start(entity[ENTITY_ATTRIBUTE_START])
                end = mapping.original_end(entity[ENTITY_ATTRIBUTE_END])
                entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END] = start, end
            message.set(TEXT, original)
        return messages
