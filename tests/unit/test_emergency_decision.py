"""Who decides `emergency`: the rules first, the classifier only where the rules know nothing."""

from pathlib import Path

import yaml

from nlu.emergency import EmergencyRules, decide

ROOT = Path(__file__).resolve().parents[2]


def ranking(*entries: tuple[str, float]) -> list[dict[str, object]]:
    return [{"name": name, "confidence": confidence} for name, confidence in entries]


def test_rules_win_over_any_classifier_guess() -> None:
    found = EmergencyRules.load().match("aku mau bunuh diri")
    decision = decide(ranking(("greet", 0.9)), found, True, 0.45, 0.05)
    assert decision is not None
    assert (decision.intent, decision.kind, decision.source) == ("emergency", "jiwa", "rules")
    assert [r["name"] for r in decision.ranking] == ["emergency", "greet"]


def test_other_intents_are_left_alone() -> None:
    assert decide(ranking(("bayi.asi", 0.9)), None, False, 0.45, 0.05) is None


def test_confident_classifier_emergency_stands_where_the_rules_know_no_words() -> None:
    guess = ranking(("emergency", 0.7), ("jiwa.stres", 0.2))
    decision = decide(guess, None, False, 0.45, 0.05)
    assert decision is not None
    assert (decision.intent, decision.kind, decision.source) == ("emergency", "jiwa", "classifier")


def test_classifier_emergency_is_dropped_when_the_rules_said_no() -> None:
    guess = ranking(("emergency", 0.95), ("kehamilan.tanda_bahaya", 0.04), ("greet", 0.01))
    decision = decide(guess, None, True, 0.45, 0.05)
    assert decision is not None
    assert decision.intent == "kehamilan.tanda_bahaya"
    assert abs(decision.confidence - 0.8) < 1e-6


def test_unsure_classifier_emergency_becomes_a_fallback() -> None:
    guess = ranking(("emergency", 0.5), ("greet", 0.26), ("thanks", 0.24))
    decision = decide(guess, None, False, 0.45, 0.05)
    assert decision is not None and decision.intent == "nlu_fallback"


def test_detector_uses_the_fallback_classifiers_thresholds() -> None:
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    by_name = {component["name"]: component for component in config["pipeline"]}
    fallback = by_name["FallbackClassifier"]
    detector = by_name["nlu.emergency_detector.EmergencyDetector"]
    assert detector["threshold"] == fallback["threshold"]
    assert detector["ambiguity_threshold"] == fallback["ambiguity_threshold"]


def test_an_unsure_decline_stays_a_decline_not_the_rephrase_fallback() -> None:
    # "krim jerawat apa yg aman buat bumil?": the classifier's best is out_of_scope_health,
    # unsure; the user should hear "not my topic, ask a health worker", which is true.
    guess = ranking(("out_of_scope_health", 0.3), ("kehamilan.gizi", 0.25))
    decision = decide(guess, None, False, 0.45, 0.05, decline_min=0.2)
    assert decision is not None and decision.intent == "out_of_scope_health"


def test_an_unsure_faq_guess_still_falls_back_and_a_very_unsure_decline_too() -> None:
    unsure_faq = ranking(("kehamilan.gizi", 0.3), ("out_of_scope_health", 0.25))
    assert decide(unsure_faq, None, False, 0.45, 0.05, decline_min=0.2) is None
    barely = ranking(("out_of_scope", 0.15), ("greet", 0.1))
    assert decide(barely, None, False, 0.45, 0.05, decline_min=0.2) is None


def test_an_unsure_classifier_emergency_gives_way_to_a_decline_behind_it() -> None:
    guess = ranking(("emergency", 0.4), ("out_of_scope", 0.2), ("greet", 0.1))
    decision = decide(guess, None, True, 0.45, 0.05, decline_min=0.2)
    assert decision is not None and decision.intent == "out_of_scope"
