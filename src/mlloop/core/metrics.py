"""The quality metrics, each declared once: the name metrics.json, params.yaml and the report
use, the direction in which it is better, and how it is scored from labels and churn probabilities.

scikit-learn is imported when a metric is first scored, not with this module: config.py checks
params.yaml's metric names against this registry in every command, and importing sklearn.metrics
would cost each command seconds.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import import_module
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

Direction = Literal["higher", "lower"]
Score = Callable[[ArrayLike, np.ndarray], float]


def decisions(probability: np.ndarray, threshold: float) -> np.ndarray:
    """The predicted class of each row: positive from the threshold up."""
    return (probability >= threshold).astype("int64")


def _sklearn(function: str, /, **options: Any) -> Score:
    """sklearn.metrics.<function> with fixed options, imported on its first call."""

    def score(label: ArrayLike, values: np.ndarray) -> float:
        return float(getattr(import_module("sklearn.metrics"), function)(label, values, **options))

    return score


@dataclass(frozen=True)
class Metric:
    """One quality metric: its name, the direction in which it is better, and its score."""

    name: str
    better: Direction
    score: Score
    """Of the labels and the probabilities; of the labels and the decisions when `at_threshold`."""
    at_threshold: bool = False

    def compute(self, label: ArrayLike, probability: np.ndarray, threshold: float) -> float:
        """The metric of these predictions, cut into decisions at `threshold` when it scores decisions."""
        return self.score(label, decisions(probability, threshold) if self.at_threshold else probability)

    def improvement(self, delta: float) -> float:
        """The delta signed so that positive always means better."""
        return delta if self.better == "higher" else -delta


METRICS: Mapping[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("roc_auc", "higher", _sklearn("roc_auc_score")),
        Metric("average_precision", "higher", _sklearn("average_precision_score")),
        Metric("f1", "higher", _sklearn("f1_score", zero_division=0), at_threshold=True),
        Metric("precision", "higher", _sklearn("precision_score", zero_division=0), at_threshold=True),
        Metric("recall", "higher", _sklearn("recall_score", zero_division=0), at_threshold=True),
        Metric("accuracy", "higher", _sklearn("accuracy_score"), at_threshold=True),
        Metric("log_loss", "lower", _sklearn("log_loss", labels=[0, 1])),
        Metric("brier", "lower", _sklearn("brier_score_loss")),
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
