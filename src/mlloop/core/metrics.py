"""The quality metrics, each declared once: the name metrics.json, params.yaml and the report
use, the direction in which it is better, and how it is scored from labels and churn probabilities;
for a metric of the probabilities alone, also how it is scored on many bootstrap resamples at once.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

Direction = Literal["higher", "lower"]
Score = Callable[..., float]
"""Of the labels and the probabilities (or decisions), with an optional sample_weight: scikit-learn's metrics, and
ROC AUC computed as scikit-learn computes it."""
ResampledScore = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""Of the labels, the probabilities and a (resamples, rows) matrix of the rows each resample drew: the metric of
each resample, NaN for one that holds one class when the metric needs both."""


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


def _roc_auc(label: ArrayLike, probability: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
    """roc_auc_score, by its own steps in numpy: scikit-learn costs the drift check a second to import, and these
    steps give its value to the last bit (tests/unit/core/test_metrics.py) for labels 0/1 or bool and weights that
    are row counts. NaN for labels of one class, as roc_auc_score.

    The steps: rows by descending probability; the true and false positives counted at each distinct
    probability; the ROC curve's corners kept (roc_curve's drop_intermediate); its area by the trapezoid rule.
    """
    positive = np.asarray(label).astype(bool)
    score = np.asarray(probability, dtype=np.float64)
    weight = np.ones(len(score)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    counted = weight != 0
    positive, score, weight = positive[counted], score[counted], weight[counted]
    if positive.all() or not positive.any():
        return float("nan")
    descending = np.argsort(score, kind="stable")[::-1]
    positive, score, weight = positive[descending], score[descending], weight[descending]
    thresholds = np.append(np.flatnonzero(np.diff(score)), len(score) - 1)
    true_positives = np.cumsum(positive * weight)[thresholds]
    false_positives = np.cumsum(~positive * weight)[thresholds]
    if len(thresholds) > 2:
        corner = np.concatenate([[True], np.diff(false_positives, 2) != 0, [True]])
        corner[1:-1] |= np.diff(true_positives, 2) != 0
        true_positives, false_positives = true_positives[corner], false_positives[corner]
    true_positive_rate = np.append(0.0, true_positives) / true_positives[-1]
    false_positive_rate = np.append(0.0, false_positives) / false_positives[-1]
    return float(np.trapezoid(true_positive_rate, false_positive_rate))


@dataclass(frozen=True)
class Metric:
    """One quality metric: its name, the direction in which it is better, and its score."""

    name: str
    better: Direction
    score: Score
    """Of the labels and the probabilities; of the labels and the decisions when `at_threshold`."""
    at_threshold: bool = False
    resampled: ResampledScore | None = None
    """The score of many resamples at once (core.bootstrap's); every metric of the probabilities alone has one."""

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


def _drawn_by_probability(label: np.ndarray, probability: np.ndarray, draws: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per distinct probability, lowest first: how many positive and negative rows each resample drew there."""
    distinct, group = np.unique(probability, return_inverse=True)
    cells = 2 * len(distinct)
    key = 2 * group + label.astype(np.intp)
    offsets = np.arange(len(draws))[:, None] * cells
    drawn = np.bincount((key[draws] + offsets).ravel(), minlength=len(draws) * cells).reshape(len(draws), -1, 2)
    return drawn[:, :, 1], drawn[:, :, 0]


def _resampled_roc_auc(label: np.ndarray, probability: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """The share of (positive, negative) pairs ranked right, a tie counting half: roc_auc_score on the drawn rows."""
    positives, negatives = _drawn_by_probability(label, probability, draws)
    below = np.cumsum(negatives, axis=1) - negatives
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((positives * (below + negatives / 2)).sum(axis=1) / (positives.sum(1) * negatives.sum(1)))


def _resampled_average_precision(label: np.ndarray, probability: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """The precision at each distinct probability, highest first, weighted by the positives drawn there:
    average_precision_score on the drawn rows.
    """
    positives, negatives = (drawn[:, ::-1] for drawn in _drawn_by_probability(label, probability, draws))
    true_positives = np.cumsum(positives, axis=1)
    flagged = true_positives + np.cumsum(negatives, axis=1)
    precision = np.divide(true_positives, flagged, out=np.zeros(flagged.shape), where=flagged > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((positives * precision).sum(axis=1) / positives.sum(axis=1))


def _row_log_loss(label: np.ndarray, probability: np.ndarray) -> np.ndarray:
    """Each row's loss, the probability clipped as log_loss clips it."""
    epsilon = np.finfo(np.float64).eps
    return np.asarray(
        -np.log(np.clip(np.where(label.astype(bool), probability, 1 - probability), epsilon, 1 - epsilon))
    )


def _row_brier(label: np.ndarray, probability: np.ndarray) -> np.ndarray:
    return np.asarray((probability - label.astype(np.float64)) ** 2)


def _resampled_mean(row_loss: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> ResampledScore:
    """A metric that is the mean of a per-row loss: each resample's mean of it over the rows it drew."""

    def resampled(label: np.ndarray, probability: np.ndarray, draws: np.ndarray) -> np.ndarray:
        return np.asarray(row_loss(label, probability)[draws].mean(axis=1))

    return resampled


METRICS: Mapping[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("roc_auc", "higher", _roc_auc, resampled=_resampled_roc_auc),
        Metric(
            "average_precision",
            "higher",
            _scikit_learn("average_precision_score"),
            resampled=_resampled_average_precision,
        ),
        Metric("f1", "higher", _scikit_learn("f1_score", zero_division=0), at_threshold=True),
        Metric("precision", "higher", _scikit_learn("precision_score", zero_division=0), at_threshold=True),
        Metric("recall", "higher", _scikit_learn("recall_score", zero_division=0), at_threshold=True),
        Metric("accuracy", "higher", _scikit_learn("accuracy_score"), at_threshold=True),
        Metric("log_loss", "lower", _scikit_learn("log_loss", labels=[0, 1]), resampled=_resampled_mean(_row_log_loss)),
        Metric("brier", "lower", _scikit_learn("brier_score_loss"), resampled=_resampled_mean(_row_brier)),
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
