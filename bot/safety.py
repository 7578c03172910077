"""Danger-sign check in the gateway, for when Rasa cannot answer.

The same rules and normaliser as the NLU pipeline (nlu/), and the same reply
text as Rasa's `utter_emergency` (domain.yml), so the two never drift apart.
"""

from __future__ import annotations

from typing import Any

from nlu.emergency import EmergencyRules
from nlu.normalize import SlangDictionary, normalize

EMERGENCY_RESPONSE = "utter_emergency"


class SafetyNet:
    def __init__(self, rules: EmergencyRules, dictionary: SlangDictionary, reply: str) -> None:
        self._rules = rules
        self._dictionary = dictionary
        self.reply = reply

    @classmethod
    def load(cls, domain: dict[str, Any]) -> SafetyNet:
        """The rules from nlu/data, the reply from the parsed domain.yml."""
        reply = domain["responses"][EMERGENCY_RESPONSE][0]["text"]
        return cls(EmergencyRules.load(), SlangDictionary.load(), reply)

    def is_emergency(self, text: str) -> bool:
        normalized = normalize(text, self._dictionary).text
        return self._rules.first_match(normalized, text.lower()) is not None
