"""A linear intent model (TF-IDF word and character n-grams, logistic regression).

Trained in seconds on the normalised training text; its ranking is blended with
DIET's by nlu.linear_classifier.LinearIntentClassifier (bench/linear.py measured it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

RANKING_LENGTH = 10


@dataclass
class LinearModel:
    words: TfidfVectorizer
    chars: TfidfVectorizer
    intents: list[str]
    # The logistic regression's weights as one features x intents array in row order
    # (scipy's sparse x dense product would copy sklearn's transposed view per message).
    weights: np.ndarray
    intercept: np.ndarray

    @classmethod
    def fit(cls, texts: list[str], intents: list[str], c: float = 100.0) -> LinearModel:
        # Word pairs and character 2-5 grams within words (typos, affixes, run-together words).
        words = TfidfVectorizer(
            analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b"
        )
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
        features = hstack([words.fit_transform(texts), chars.fit_transform(texts)]).tocsr()
        # Unweighted classes: weighting them "balanced" gave the same macro-F1 but answered
        # 8.5 % of out_of_scope_health questions with an FAQ entry instead of 5.8 %.
        classifier = LogisticRegression(C=c, max_iter=3000)
        classifier.fit(features, intents)
        return cls(
            words,
            chars,
            [str(intent) for intent in classifier.classes_],
            np.ascontiguousarray(classifier.coef_.T),
            classifier.intercept_.copy(),
        )

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """The multinomial logistic regression's probabilities (its predict_proba)."""
        features = hstack([self.words.transform(texts), self.chars.transform(texts)]).tocsr()
        scores = np.asarray(features @ self.weights) + self.intercept
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def ranking(self, text: str, length: int = RANKING_LENGTH) -> list[dict[str, Any]]:
        probabilities = self.probabilities([text])[0]
        order = np.argsort(-probabilities)[:length]
        return [{"name": self.intents[i], "confidence": float(probabilities[i])} for i in order]


def as_confidences(ranking: list[dict[str, Any]]) -> dict[str, float]:
    """A ranking as name -> confidence."""
    return {str(e["name"]): float(e.get("confidence") or 0.0) for e in ranking}


def soften(ranking: list[dict[str, Any]], temperature: float) -> dict[str, float]:
    """A ranking's confidences as name -> confidence, flattened by `temperature`.

    Each confidence is raised to 1 / temperature and the result rescaled to the same
    total (for a softmax, the same as dividing its logits by the temperature):
    1.0 keeps the ranking as it is; 2.0 turns 0.99 / 0.01 into about 0.91 / 0.09.
    """
    confidences = as_confidences(ranking)
    if temperature == 1.0 or not confidences:
        return confidences
    powered = {n: c ** (1.0 / temperature) for n, c in confidences.items()}
    scale = sum(confidences.values()) / (sum(powered.values()) or 1.0)
    return {n: c * scale for n, c in powered.items()}


def blend(
    diet: list[dict[str, Any]],
    linear: list[dict[str, Any]],
    weight: float,
    temperature: float = 1.0,
) -> list[dict[str, Any]]:
    """(1 - weight) x DIET's confidence + weight x the linear model's, best first;
    DIET's confidences first flattened by `temperature` (see soften).

    An intent missing from one ranking counts as 0 there (both rankings are cut to
    their top entries, whose confidences carry nearly all the mass).
    """
    names = {str(e["name"]) for e in diet} | {str(e["name"]) for e in linear}
    first = soften(diet, temperature)
    second = as_confidences(linear)
    mixed = [
        {"name": n, "confidence": (1 - weight) * first.get(n, 0.0) + weight * second.get(n, 0.0)}
        for n in names
    ]
    mixed.sort(key=lambda e: -e["confidence"])
    return mixed[:RANKING_LENGTH]
