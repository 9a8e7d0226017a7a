"""The quality metrics, each declared once: the name metrics.json, params.yaml and the report
use, the direction in which it is better, and how it is scored from labels and churn probabilities.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

Direction = Literal["higher", "lower"]
Score = Callable[..., float]
"""Of the labels and the probabilities (or decisions), with an optional sample_weight: scikit-learn's metrics."""


def decisions(probability: np.ndarray, threshold: float) -> np.ndarray:
    """The predicted class of each row: positive from the threshold up."""
    return (probability >= threshold).astype("int64")


def _scikit_learn(name: str, **options: Any) -> Score:
    """A scikit-learn metric, imported when first scored: scikit-learn takes a second to import, which a
    command that never scores (a drift check without labels, `mlloop path`) should not pay.
    """

    def score(*arguments: Any, **keywords: Any) -> float:
        from sklearn import metrics

        return float(getattr(metrics, name)(*arguments, **options, **keywords))

    return score


@dataclass(frozen=True)
class Metric:
    """One quality metric: its name, the direction in which it is better, and its score."""

    name: str
    better: Direction
    score: Score
    """Of the labels and the probabilities; of the labels and the decisions when `at_threshold`."""
    at_threshold: bool = False

    def compute(
        self, label: ArrayLike, probability: np.ndarray, threshold: float, weight: np.ndarray | None = None
    ) -> float:
        """The metric of these predictions, cut into decisions at `threshold` when it scores decisions; each row
        counted `weight` times when given (rows that repeat, counted once each: the same value).
        """
        predicted = decisions(probability, threshold) if self.at_threshold else probability
        return float(self.score(label, predicted, sample_weight=weight))

    def improvement(self, delta: float) -> float:
        """The delta signed so that positive always means better."""
        return delta if self.better == "higher" else -delta


METRICS: Mapping[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("roc_auc", "higher", _scikit_learn("roc_auc_score")),
        Metric("average_precision", "higher", _scikit_learn("average_precision_score")),
        Metric("f1", "higher", _scikit_learn("f1_score", zero_division=0), at_threshold=True),
        Metric("precision", "higher", _scikit_learn("precision_score", zero_division=0), at_threshold=True),
        Metric("recall", "higher", _scikit_learn("recall_score", zero_division=0), at_threshold=True),
        Metric("accuracy", "higher", _scikit_learn("accuracy_score"), at_threshold=True),
        Metric("log_loss", "lower", _scikit_learn("log_loss", labels=[0, 1])),
        Metric("brier", "lower", _scikit_learn("brier_score_loss")),
    )
}
"""Every metric the evaluate stage records in metrics.json, by name."""

THRESHOLD_FREE: Mapping[str, Metric] = {name: metric for name, metric in METRICS.items() if not metric.at_threshold}
"""The metrics of the probabilities alone, comparable between two models whatever their thresholds."""


def improvement(name: str, delta: float) -> float:
    """The delta signed so that positive means better; a name another commit's metrics.json recorded
    but this registry lacks counts as higher-is-better, as most metrics are.
    """
    metric = METRICS.get(name)
    return delta if metric is None else metric.improvement(delta)
