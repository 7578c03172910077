"""A linear intent classifier beside DIET, measured without a Rasa training run.

Trains TF-IDF (word 1-2 grams and char_wb 2-5 grams of the normalised text) with a
logistic regression on data/nlu/, then scores the held-out sets with the
same decision rule as the pipeline (danger-sign rules first, then the ranking under
the FallbackClassifier thresholds, declines kept from DECLINE_MIN). With the last
`make bench-nlu` run at hand (build/bench/nlu.json, DIET's own ranking per
utterance), it also scores DIET alone, blends of the two rankings and blends with
DIET's confidences flattened (temperature), which is how the settings of
nlu.linear_classifier.LinearIntentClassifier were chosen: on the short, long and
border sets only. Last, it prints config.yml's setting for each held-out set apart,
the sealed sets included.

Run (Rasa environment, it has scikit-learn): .venv/rasa/bin/python -m bench.linear
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from bench.nlu import RESULTS, config_component, curve_row, heldout_cases, load_config_thresholds
from bench.overlap import training_examples, unannotated
from nlu.emergency import DECLINE_MIN, EmergencyRules
from nlu.linear import LinearModel, blend
from nlu.normalize import SlangDictionary, normalize

THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
WEIGHTS = (0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 0.85, 1.0)
TEMPERATURES = (1.0, 2.0, 3.0, 5.0)
# Settings are chosen on these sets; the sealed sets are only measured.
CHOOSING_SETS = ("short", "long", "border")
HEADER = (
    f"{'linear weight, fallback threshold':<34} {'macro-F1':>8} {'long':>5} {'acc':>5}"
    f" {'wrong':>6} {'declined':>8} {'oosh->faq':>9} {'oos->faq':>8}"
)


def row(name: str, s: dict[str, float]) -> str:
    return (
        f"{name:<34} {s['macro_f1']:8.3f} {s['long_macro_f1']:5.3f} {s['accuracy']:5.3f}"
        f" {s['wrong_in_scope']:6.1%} {s['fallback_in_scope']:8.1%}"
        f" {s['out_of_scope_health_as_faq']:9.1%} {s['out_of_scope_as_faq']:8.1%}"
    )


def cases_with_rules(dictionary: SlangDictionary, rules: EmergencyRules) -> list[dict[str, Any]]:
    """The held-out utterances as bench.nlu's results hold them, without a ranking yet."""
    cases = []
    for text, gold, long, subset in heldout_cases():
        normalized = normalize(text, dictionary).text
        cases.append(
            {
                "text": text,
                "normalized": normalized,
                "gold": gold,
                "long": long,
                "set": subset,
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
    cases = cases_with_rules(dictionary, rules)
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
    threshold, ambiguity = load_config_thresholds()
    if diet is None:
        print("(no DIET rankings: run make bench-nlu first to compare and blend)")
    choosing = [i for i, c in enumerate(cases) if c["set"] in CHOOSING_SETS]
    print(f"On the sets settings are chosen on ({', '.join(CHOOSING_SETS)}: {len(choosing)}),")
    print(f"ambiguity {ambiguity:.2f}, DIET's confidences as they are:")
    print(HEADER)
    for weight in [1.0] if diet is None else WEIGHTS:
        results = ranked(cases, diet, linear, weight)
        chosen = [results[i] for i in choosing]
        for fallback in THRESHOLDS:
            figures = curve_row(chosen, fallback, ambiguity, DECLINE_MIN)
            print(row(f"weight {weight:.2f}, threshold {fallback:.2f}", figures))
    if diet is not None:
        print(f"\nDIET's confidences flattened (temperature), threshold {threshold:.2f}:")
        print(HEADER.replace("linear weight, fallback threshold", "temperature, linear weight"))
        for temperature in TEMPERATURES:
            for weight in WEIGHTS[1:-1]:
                results = ranked(cases, diet, linear, weight, temperature)
                chosen = [results[i] for i in choosing]
                figures = curve_row(chosen, threshold, ambiguity, DECLINE_MIN)
                print(row(f"temperature {temperature:.0f}, weight {weight:.2f}", figures))
    weight, temperature = config_blend()
    results = ranked(cases, diet, linear, weight, temperature)
    shown = "linear alone" if diet is None else f"weight {weight:.2f}, temperature {temperature:g}"
    print(f"\nconfig.yml: {shown}, thresholds {threshold:.2f} / {ambiguity:.2f}, by held-out set:")
    for subset in dict.fromkeys(c["set"] for c in cases):
        chosen = [r for r in results if r["set"] == subset]
        figures = curve_row(chosen, threshold, ambiguity, DECLINE_MIN)
        print(row(f"{subset} ({len(chosen)})", figures))
    return 0


def ranked(
    cases: list[dict[str, Any]],
    diet: list[list[dict[str, Any]]] | None,
    linear: list[list[dict[str, Any]]],
    weight: float,
    temperature: float = 1.0,
) -> list[dict[str, Any]]:
    """The cases with the ranking the pipeline would give with these settings (the
    linear model's alone when there are no DIET rankings)."""
    if diet is None:
        rankings = linear
    else:
        rankings = [blend(d, x, weight, temperature) for d, x in zip(diet, linear, strict=True)]
    return [{**c, "ranking": r} for c, r in zip(cases, rankings, strict=True)]


def config_blend() -> tuple[float, float]:
    """The linear model's weight and DIET's temperature in config.yml's blend (the
    component's defaults where unset; weight 0 when the pipeline has no linear model)."""
    from nlu.linear_classifier import LinearIntentClassifier

    component = config_component("LinearIntentClassifier")
    if component is None:
        return 0.0, 1.0
    settings = {**LinearIntentClassifier.get_default_config(), **component}
    return float(settings["weight"]), float(settings["diet_temperature"])


if __name__ == "__main__":
    sys.exit(main())
