"""A linear intent classifier beside DIET, measured without a Rasa training run.

Trains TF-IDF (word 1-2 grams and char_wb 2-5 grams of the normalised text) with a
logistic regression on data/nlu/, then scores the three held-out sets with the
same decision rule as the pipeline (danger-sign rules first, then the ranking under
the FallbackClassifier thresholds, declines kept from DECLINE_MIN). With the last
`make bench-nlu` run at hand (build/bench/nlu.json, DIET's own ranking per
utterance), it also scores DIET alone and blends of the two rankings, which is how
the weight of nlu.linear_classifier.LinearIntentClassifier was chosen.

Run (Rasa environment, it has scikit-learn): .venv/rasa/bin/python -m bench.linear
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from bench.overlap import (
    HELDOUT_FILES,
    read_examples,
    sentence_count,
    training_examples,
    unannotated,
)
from bench.scores import macro_f1
from nlu.emergency import DECLINE_MIN, EmergencyRules, below_thresholds, decide
from nlu.linear import LinearModel, blend
from nlu.normalize import SlangDictionary, normalize

OUT_OF_SCOPE = ("out_of_scope", "out_of_scope_health")
DECLINED = {"out_of_scope", "out_of_scope_health", "nlu_fallback"}
FALLBACK = "nlu_fallback"
RESULTS = HELDOUT_FILES[0].parents[1] / "build" / "bench" / "nlu.json"
THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
HEADER = (
    f"{'linear weight, fallback threshold':<34} {'macro-F1':>8} {'long':>5} {'acc':>5}"
    f" {'wrong':>6} {'declined':>8} {'oosh->faq':>9} {'oos->faq':>8}"
)


def predict(ranking: list[dict[str, Any]], case: dict[str, Any], threshold: float) -> str:
    decision = decide(ranking, case["found"], case["considered"], threshold, 0.05, DECLINE_MIN)
    if decision is not None:
        return decision.intent
    if below_thresholds(ranking, threshold, 0.05):
        return FALLBACK
    return str(ranking[0]["name"])


def scores(cases: list[dict[str, Any]], predicted: list[str]) -> dict[str, float]:
    pairs = [(c["gold"], p) for c, p in zip(cases, predicted, strict=True)]
    long = [(c["gold"], p) for c, p in zip(cases, predicted, strict=True) if c["long"]]
    in_scope = [(g, p) for g, p in pairs if g not in OUT_OF_SCOPE]
    oos_health = [p for g, p in pairs if g == "out_of_scope_health"]
    oos = [p for g, p in pairs if g == "out_of_scope"]
    return {
        "macro_f1": macro_f1(pairs),
        "long_f1": macro_f1(long),
        "accuracy": sum(g == p for g, p in pairs) / len(pairs),
        "wrong_in_scope": sum(p not in (g, *DECLINED) for g, p in in_scope) / len(in_scope),
        "declined_in_scope": sum(p in DECLINED for _, p in in_scope) / len(in_scope),
        "oosh_as_faq": sum("." in p for p in oos_health) / len(oos_health),
        "oos_as_faq": sum("." in p for p in oos) / len(oos),
    }


def row(name: str, s: dict[str, float]) -> str:
    return (
        f"{name:<34} {s['macro_f1']:8.3f} {s['long_f1']:5.3f} {s['accuracy']:5.3f}"
        f" {s['wrong_in_scope']:6.1%} {s['declined_in_scope']:8.1%}"
        f" {s['oosh_as_faq']:9.1%} {s['oos_as_faq']:8.1%}"
    )


def heldout_cases(dictionary: SlangDictionary, rules: EmergencyRules) -> list[dict[str, Any]]:
    cases = []
    for index, path in enumerate(HELDOUT_FILES):
        for example in read_examples(path):
            text = example.text
            normalized = normalize(text, dictionary).text
            cases.append(
                {
                    "text": text,
                    "normalized": normalized,
                    "gold": example.intent,
                    "long": index == 1 or (index == 2 and sentence_count(text) >= 3),
                    "found": rules.match(normalized, text),
                    "considered": rules.considered(normalized, text),
                }
            )
    return cases


def diet_rankings(cases: list[dict[str, Any]]) -> list[list[dict[str, Any]]] | None:
    """DIET's ranking per held-out utterance from the last bench run, if it has them all.

    A run of the blending pipeline kept DIET's own ranking apart (`diet_ranking`);
    in a run of DIET alone, the classifier's ranking is DIET's.
    """
    if not RESULTS.exists():
        return None
    by_text = {
        r["text"]: r["diet_ranking"] if "linear_ranking" in r else r["ranking"]
        for r in json.loads(RESULTS.read_text())["results"]
    }
    if not all(c["text"] in by_text for c in cases):
        return None
    return [by_text[c["text"]] for c in cases]


def main() -> int:
    dictionary, rules = SlangDictionary.load(), EmergencyRules.load()
    training = [
        (normalize(unannotated(e.text), dictionary).text, e.intent) for e in training_examples()
    ]
    cases = heldout_cases(dictionary, rules)
    print(f"{len(training)} training examples, {len(cases)} held-out utterances")
    diet = diet_rankings(cases)
    c_value = float(sys.argv[1]) if len(sys.argv) > 1 else 100.0
    started = time.perf_counter()
    model = LinearModel.fit([t for t, _ in training], [i for _, i in training], c=c_value)
    print(f"linear model (C={c_value}) trained in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    linear = [model.ranking(c["normalized"]) for c in cases]
    each = (time.perf_counter() - started) / len(cases) * 1000
    print(f"{each:.2f} ms per message\n")
    weights = [1.0] if diet is None else [0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 1.0]
    if diet is None:
        print("(no DIET rankings: run make bench-nlu first to compare and blend)")
    print(HEADER)
    for weight in weights:
        for threshold in THRESHOLDS:
            if diet is None:
                rankings = linear
            else:
                rankings = [blend(d, x, weight) for d, x in zip(diet, linear, strict=True)]
            predicted = [predict(r, c, threshold) for r, c in zip(rankings, cases, strict=True)]
            print(row(f"weight {weight:.2f}, threshold {threshold:.2f}", scores(cases, predicted)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
