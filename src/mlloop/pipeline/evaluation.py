"""What the evaluate stage measures: quality metrics, curve data for plots, feature
importance and prediction latency. Pure functions of a fitted model and a test set.
"""

import time
from collections.abc import Callable
from statistics import median, quantiles

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.inspection import permutation_importance
from sklearn.metrics import precision_recall_curve, roc_curve
from sklearn.pipeline import Pipeline

from mlloop.config import ImportanceParams, LatencyParams
from mlloop.core import metrics
from mlloop.core.schema import FeatureSchema

MILLISECONDS = 1000.0


def churn_probability(model: Pipeline, features: pd.DataFrame) -> np.ndarray:
    """Probability of the positive class for each row."""
    return np.asarray(model.predict_proba(features)[:, 1])


def classification_metrics(label: pd.Series, probability: np.ndarray, threshold: float) -> dict[str, float]:
    """Every registered metric: ranking metrics of the probabilities, decision metrics at the configured threshold."""
    return {name: metric.compute(label, probability, threshold) for name, metric in metrics.METRICS.items()}


def roc_points(label: pd.Series, probability: np.ndarray) -> pd.DataFrame:
    """The ROC curve, without collinear points."""
    false_positive_rate, true_positive_rate, _ = roc_curve(label, probability, drop_intermediate=True)
    return pd.DataFrame({"fpr": false_positive_rate, "tpr": true_positive_rate})


def precision_recall_points(label: pd.Series, probability: np.ndarray) -> pd.DataFrame:
    """The precision-recall curve, without collinear points."""
    precision, recall, _ = precision_recall_curve(label, probability, drop_intermediate=True)
    return pd.DataFrame({"recall": recall, "precision": precision})


def confusion_rows(label: pd.Series, probability: np.ndarray, threshold: float, schema: FeatureSchema) -> pd.DataFrame:
    """One row per test example with actual and predicted class names, as DVC's confusion template wants."""
    names = np.array([schema.target.negative, schema.target.positive])
    return pd.DataFrame(
        {"actual": names[np.asarray(label)], "predicted": names[metrics.decisions(probability, threshold)]}
    )


def calibration_points(label: pd.Series, probability: np.ndarray, bins: int) -> pd.DataFrame:
    """Observed positive rate against mean predicted probability, per probability bin."""
    observed, predicted = calibration_curve(label, probability, n_bins=bins, strategy="uniform")
    return pd.DataFrame({"mean_predicted": predicted, "fraction_positive": observed})


def feature_importance(
    model: Pipeline, features: pd.DataFrame, label: pd.Series, settings: ImportanceParams
) -> pd.DataFrame:
    """Permutation importance (drop in ROC AUC) per input column: model-agnostic, on a seeded sample."""
    sample = features.sample(n=min(settings.max_rows, len(features)), random_state=settings.seed)
    result = permutation_importance(
        model,
        sample,
        label.loc[sample.index],
        scoring="roc_auc",
        n_repeats=settings.repeats,
        random_state=settings.seed,
    )
    importance = pd.DataFrame({"feature": features.columns, "importance": result.importances_mean})
    return importance.sort_values(["importance", "feature"], ascending=[False, True], ignore_index=True)


def _timings_ms(call: Callable[[], object], repetitions: int) -> list[float]:
    timings = []
    for _ in range(repetitions):
        start = time.perf_counter()
        call()
        timings.append((time.perf_counter() - start) * MILLISECONDS)
    return timings


def _p95(timings: list[float]) -> float:
    return quantiles(timings, n=20, method="inclusive")[-1] if len(timings) > 1 else timings[0]


def prediction_latency(model: Pipeline, features: pd.DataFrame, settings: LatencyParams) -> dict[str, float]:
    """Wall-clock predict_proba latency for one row and for a batch (median and p95, ms)."""
    single_row = features.iloc[[0]]
    batch = features.iloc[np.arange(settings.batch_rows) % len(features)]
    single = _timings_ms(lambda: model.predict_proba(single_row), settings.single_row_calls)
    batched = _timings_ms(lambda: model.predict_proba(batch), settings.batch_calls)
    return {
        "single_row_latency_ms_p50": median(single),
        "single_row_latency_ms_p95": _p95(single),
        "batch_rows": settings.batch_rows,
        "batch_latency_ms_p50": median(batched),
        "batch_latency_ms_p95": _p95(batched),
        "batch_rows_per_second": settings.batch_rows / (median(batched) / MILLISECONDS),
    }
