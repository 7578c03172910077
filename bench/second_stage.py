"""A second-stage check, replayed: does the chosen FAQ topic share its own words with the message?

Issue 8 asks for "a check that the chosen FAQ entry really answers the question". This
replays one such check on the last `make bench-nlu` run (build/bench/nlu.json, no stack
needed): each FAQ topic's anchor words are learnt from the training data (words in at
least `min_count` of its examples and `min_share` of them, and at least `min_purity` of
whose occurrences are in this topic); an FAQ answer whose topic has none of its anchor
words in the (normalised) message, and whose confidence is under `confidence`, becomes
an `out_of_scope_health` decline. It also tries keeping a decline ranked second when the
fallback would answer. Printed per setting: macro-F1 overall and for long questions,
in-scope messages answered with a wrong topic and declined, and out-of-scope messages
answered with an FAQ topic (the figures `make bench-nlu` prints).

Run: .venv/app/bin/python -m bench.second_stage   (after make bench-nlu)
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter, defaultdict
from types import SimpleNamespace
from typing import Any

from bench.nlu import DECLINED, FALLBACK, OUT_OF_SCOPE, RESULTS, decide_at
from bench.overlap import training_examples
from bench.scores import macro_f1
from nlu.normalize import SlangDictionary, normalize

WORD = re.compile(r"[^\W\d_]{3,}")
OUT_OF_SCOPE_HEALTH = "out_of_scope_health"


def words(text: str, dictionary: SlangDictionary) -> set[str]:
    return set(WORD.findall(normalize(text, dictionary).text.lower()))


def anchor_words(
    examples: list[tuple[str, set[str]]], min_count: int, min_share: float, min_purity: float
) -> dict[str, set[str]]:
    """Each FAQ topic's distinctive words (intent -> words)."""
    by_intent: dict[str, Counter[str]] = defaultdict(Counter)
    sizes: Counter[str] = Counter()
    for intent, found in examples:
        by_intent[intent].update(found)
        sizes[intent] += 1
    everywhere: Counter[str] = Counter()
    for counts in by_intent.values():
        everywhere.update(counts)
    return {
        intent: {
            word
            for word, n in counts.items()
            if n >= min_count
            and n / sizes[intent] >= min_share
            and n / everywhere[word] >= min_purity
        }
        for intent, counts in by_intent.items()
        if "." in intent
    }


def predict(
    result: dict[str, Any],
    anchors: dict[str, set[str]] | None,
    confidence: float,
    second_decline: float | None,
    threshold: float,
    ambiguity: float,
) -> str:
    predicted = decide_at(result, threshold, ambiguity)
    ranking = result["ranking"]
    if predicted == FALLBACK and second_decline is not None:
        for entry in ranking[:2]:
            if entry["name"] in OUT_OF_SCOPE and entry["confidence"] >= second_decline:
                return str(entry["name"])
    if "." in predicted and anchors is not None:
        score = next((e["confidence"] for e in ranking if e["name"] == predicted), 1.0)
        if score < confidence and not result["words"] & anchors.get(predicted, set()):
            return OUT_OF_SCOPE_HEALTH
    return predicted


def scores(results: list[dict[str, Any]], predicted: list[str]) -> list[float]:
    pairs = [(r["gold"], p) for r, p in zip(results, predicted, strict=True)]
    long = [(r["gold"], p) for r, p in zip(results, predicted, strict=True) if r["long"]]
    in_scope = [(g, p) for g, p in pairs if g not in OUT_OF_SCOPE]
    return [
        macro_f1(pairs),
        macro_f1(long),
        sum(p not in (g, *DECLINED) for g, p in in_scope) / len(in_scope),
        sum(p in DECLINED for _, p in in_scope) / len(in_scope),
        *(
            sum("." in p for g, p in pairs if g == label)
            / max(1, sum(g == label for g, _ in pairs))
            for label in (OUT_OF_SCOPE_HEALTH, "out_of_scope")
        ),
    ]


def main() -> None:
    from bench.nlu import load_config_thresholds

    threshold, ambiguity = load_config_thresholds()
    dictionary = SlangDictionary.load()
    results = json.loads(RESULTS.read_text(encoding="utf-8"))["results"]
    for result in results:
        sign = result["found"]
        result["found"] = SimpleNamespace(sign=sign, reply="umum") if sign else None
        result["words"] = words(result["text"], dictionary)
    examples = [(e.intent, words(e.text, dictionary)) for e in training_examples()]
    print(f"Replayed on {len(results)} held-out messages; thresholds {threshold}, {ambiguity}")
    print(
        "anchors (count, share, purity)  conf  2nd-decline  macro-F1  long-F1  wrong(in)"
        "  declined(in)  oos-health->FAQ  oos->FAQ"
    )
    settings: list[tuple[tuple[int, float, float] | None, float, float | None]] = [
        (None, 1.0, None),
        (None, 1.0, 0.1),
        (None, 1.0, 0.2),
    ]
    settings += [
        ((count, share, purity), confidence, None)
        for count, share, purity, confidence in itertools.product(
            (2, 3), (0.02, 0.04), (0.3, 0.5), (0.6, 0.8, 0.95)
        )
    ]
    cache: dict[tuple[int, float, float], dict[str, set[str]]] = {}
    for key, confidence, second in settings:
        anchors = None
        if key is not None:
            anchors = cache.setdefault(key, anchor_words(examples, *key))
        predicted = [predict(r, anchors, confidence, second, threshold, ambiguity) for r in results]
        figures = "  ".join(f"{value:7.3f}" for value in scores(results, predicted))
        label = "none (as deployed)" if key is None else str(key)
        kept = "-" if second is None else f"{second:.2f}"
        print(f"{label:>30}  {confidence:4.2f}  {kept:>11}  {figures}")


if __name__ == "__main__":
    main()
