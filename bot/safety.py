"""Danger-sign check in the gateway, for when Rasa cannot answer.

The same rules and normaliser as the NLU pipeline (nlu/), and the same reply
texts as Rasa's `utter_emergency` (domain.yml: a general one, and a caring one
with a mental-health service for self-harm and suicide wording), so the two
never drift apart.
"""

from __future__ import annotations

from typing import Any

from nlu.emergency import EmergencyRules
from nlu.normalize import SlangDictionary, normalize

EMERGENCY_RESPONSE = "utter_emergency"
KIND_SLOT = "emergency_kind"


class SafetyNet:
    def __init__(
        self, rules: EmergencyRules, dictionary: SlangDictionary, replies: dict[str, str]
    ) -> None:
        self._rules = rules
        self._dictionary = dictionary
        self._replies = replies

    @classmethod
    def load(cls, domain: dict[str, Any]) -> SafetyNet:
        """The rules from nlu/data, the replies (per emergency kind) from the parsed domain.yml."""
        replies: dict[str, str] = {}
        for variation in domain["responses"][EMERGENCY_RESPONSE]:
            conditions = variation.get("condition") or []
            kinds = [c["value"] for c in conditions if c.get("name") == KIND_SLOT]
            replies[kinds[0] if kinds else "umum"] = variation["text"]
        return cls(EmergencyRules.load(), SlangDictionary.load(), replies)

    def reply_for(self, text: str) -> str | None:
        """The emergency reply this text calls for, or None when it describes no danger sign."""
        found = self._rules.match(normalize(text, self._dictionary).text, text)
        if found is None:
            return None
        return self._replies.get(found.reply, self._replies["umum"])
