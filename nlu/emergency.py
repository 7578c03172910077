"""Deterministic danger-sign rules: the safety net under the intent classifier.

Pure Python (no Rasa import): the NLU pipeline (nlu/emergency_detector.py) and
the gateway (when Rasa is down) apply the same rules from one data file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = ["EmergencyRules", "Sign"]

DEFAULT_RULES = Path(__file__).parent / "data" / "emergency.yml"


@dataclass(frozen=True)
class Sign:
    name: str
    patterns: tuple[re.Pattern[str], ...]

    def matches(self, text: str) -> bool:
        return all(pattern.search(text) for pattern in self.patterns)


class EmergencyRules:
    """The danger signs of nlu/data/emergency.yml."""

    def __init__(self, signs: list[Sign]) -> None:
        self.signs = signs

    @classmethod
    def load(cls, path: Path | str = DEFAULT_RULES) -> EmergencyRules:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        signs = []
        for entry in data.get("signs") or []:
            patterns = tuple(
                re.compile(rf"(?<!\w){pattern}(?!\w)", re.IGNORECASE) for pattern in entry["all"]
            )
            if not patterns:
                raise ValueError(f"{path}: sign {entry.get('name')!r} has no patterns")
            signs.append(Sign(str(entry["name"]), patterns))
        return cls(signs)

    def first_match(self, *texts: str) -> str | None:
        """Name of the first sign found in any of the texts, or None."""
        for text in texts:
            for sign in self.signs:
                if sign.matches(text):
                    return sign.name
        return None
