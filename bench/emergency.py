"""The danger-sign rules alone (nlu/data/emergency.yml), without the classifier.

Scores recall and precision of the rules on every labelled set we have: the
held-out sets (emergency vs every other intent) and the sealed sets
bench/emergency_sealed.yml and bench/emergency_sealed2.yml (emergency vs
not_emergency), written by someone who never saw the rules; every miss and
false alarm is listed.

Run: make bench-emergency
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench.overlap import HELDOUT_FILES, ROOT, Example, read_examples
from nlu.emergency import EmergencyRules
from nlu.normalize import SlangDictionary, normalize

SETS = {
    "held-out": list(HELDOUT_FILES),
    "sealed": [ROOT / "bench" / "emergency_sealed.yml"],
    # Written on 2026-12-04 by someone who never opened the rules, the training data or
    # the held-out sets, after the rules had been widened that day; measured once.
    "sealed2": [ROOT / "bench" / "emergency_sealed2.yml"],
}


def score(examples: list[Example], rules: EmergencyRules, dictionary: SlangDictionary) -> None:
    hits = misses = alarms = 0
    for example in examples:
        found = rules.match(normalize(example.text, dictionary).text, example.text)
        gold = example.intent == "emergency"
        if found and gold:
            hits += 1
        elif gold:
            misses += 1
            print(f"  missed: {example.text[:160]}")
        elif found:
            alarms += 1
            print(f"  false alarm ({found.sign}): {example.text[:160]}")
    recall = hits / max(1, hits + misses)
    precision = hits / max(1, hits + alarms)
    print(
        f"  {len(examples)} messages, {hits + misses} emergencies: "
        f"recall {recall:.3f}, precision {precision:.3f}"
    )


def main() -> int:
    rules, dictionary = EmergencyRules.load(), SlangDictionary.load()
    for name, paths in SETS.items():
        print(f"{name}:")
        score(
            [e for path in paths if Path(path).exists() for e in read_examples(path)],
            rules,
            dictionary,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
