"""Scores shared by the NLU benchmark and the console's retrain gate (nlu/retrain.py)."""

from __future__ import annotations


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    """The mean F1 over the gold labels of (gold, predicted) pairs."""
    labels = {gold for gold, _ in pairs}
    scores = []
    for label in labels:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores) if scores else 0.0
