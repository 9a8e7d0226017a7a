"""What the evaluate stage measures: metrics, curve data, feature importance and latency."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from mlloop.config import ImportanceParams, LatencyParams
from mlloop.core.model import build_pipeline, fit
from mlloop.core.schema import FeatureSchema, Target, features_and_label
from mlloop.pipeline.evaluation import (
    calibration_points,
    churn_probability,
    classification_metrics,
    confusion_rows,
    feature_importance,
    precision_recall_points,
    prediction_latency,
    roc_points,
)

# Four customers, worked by hand at threshold 0.5:
#   label        0    0    1    1
#   probability  0.1  0.6  0.4  0.9
#   decision     0    1    0    1      -> TP 1, FP 1, FN 1, TN 1
HAND_LABEL = pd.Series([0, 0, 1, 1])
HAND_PROBABILITY = np.array([0.1, 0.6, 0.4, 0.9])
HAND_METRICS = {
    "precision": 1 / 2,  # TP / (TP + FP)
    "recall": 1 / 2,  # TP / (TP + FN)
    "f1": 1 / 2,
    "accuracy": 2 / 4,
    # 3 of the 4 (positive, negative) pairs are ranked correctly: only 0.4 < 0.6 is not
    "roc_auc": 3 / 4,
    # ranked 0.9 (+), 0.6 (-), 0.4 (+), 0.1 (-): precision 1 at recall 1/2, 2/3 at recall 1
    "average_precision": 1 / 2 * 1 + 1 / 2 * 2 / 3,
    # every row's probability of its own label is 0.9 or 0.4, twice each
    "log_loss": -(math.log(0.9) + math.log(0.4)) / 2,
    # squared errors 0.01, 0.36, 0.36, 0.01
    "brier": (0.01 + 0.36 + 0.36 + 0.01) / 4,
}


@pytest.fixture
def fitted_model(schema: FeatureSchema, valid_table: pd.DataFrame) -> Pipeline:
    """A logistic regression fitted on the small valid table."""
    features, label = features_and_label(valid_table, schema)
    return fit(build_pipeline(schema, "logistic_regression", {}, seed=0), features, label)


def test_classification_metrics_match_a_hand_computed_example() -> None:
    metrics = classification_metrics(HAND_LABEL, HAND_PROBABILITY, threshold=0.5)

    assert metrics.keys() == HAND_METRICS.keys()
    for name, expected in HAND_METRICS.items():
        assert metrics[name] == pytest.approx(expected, abs=1e-12), name


def test_probability_equal_to_the_threshold_counts_as_positive() -> None:
    metrics = classification_metrics(HAND_LABEL, HAND_PROBABILITY, threshold=0.4)

    # 0.4 and above are positive: decisions 0, 1, 1, 1 -> TP 2, FP 1, FN 0
    assert metrics["recall"] == 1.0
    assert metrics["precision"] == pytest.approx(2 / 3)


def test_no_positive_decision_gives_zero_precision_not_an_error() -> None:
    metrics = classification_metrics(HAND_LABEL, HAND_PROBABILITY, threshold=0.95)

    assert (metrics["precision"], metrics["recall"], metrics["f1"]) == (0.0, 0.0, 0.0)


def test_confusion_rows_use_the_schema_class_names(schema: FeatureSchema) -> None:
    # given: a schema whose classes are not called Yes/No
    renamed = schema.model_copy(update={"target": Target(name="churn", positive="left", negative="stayed")})
    label = pd.Series([0, 1, 1, 0])
    probability = np.array([0.2, 0.5, 0.3, 0.7])

    # when
    rows = confusion_rows(label, probability, threshold=0.5, schema=renamed)

    # then
    assert list(rows.columns) == ["actual", "predicted"]
    assert rows["actual"].tolist() == ["stayed", "left", "left", "stayed"]
    assert rows["predicted"].tolist() == ["stayed", "left", "stayed", "left"]


@pytest.mark.parametrize("threshold", [0.4, 0.5, 0.95])
def test_the_confusion_rows_and_the_decision_metrics_cut_at_the_same_point(
    schema: FeatureSchema, threshold: float
) -> None:
    rows = confusion_rows(HAND_LABEL, HAND_PROBABILITY, threshold, schema)
    metrics = classification_metrics(HAND_LABEL, HAND_PROBABILITY, threshold)

    actual, predicted = rows["actual"] == schema.target.positive, rows["predicted"] == schema.target.positive
    assert (actual == predicted).mean() == pytest.approx(metrics["accuracy"])
    assert (actual & predicted).sum() / actual.sum() == pytest.approx(metrics["recall"])


def _scored_example(rows: int = 200) -> tuple[pd.Series, np.ndarray]:
    """A label and a probability loosely related to it, from a fixed seed."""
    rng = np.random.default_rng(3)
    label = pd.Series(rng.integers(0, 2, size=rows))
    probability = np.clip(0.3 * label.to_numpy() + rng.uniform(0, 0.7, size=rows), 0, 1)
    return label, probability


def _within_unit_interval(points: pd.DataFrame) -> bool:
    values = points.to_numpy(dtype="float64")
    return bool(np.all((values >= 0) & (values <= 1)))


def test_roc_points_run_from_origin_to_one_in_order() -> None:
    label, probability = _scored_example()

    points = roc_points(label, probability)

    assert list(points.columns) == ["fpr", "tpr"]
    assert _within_unit_interval(points)
    assert points["fpr"].is_monotonic_increasing
    assert points["tpr"].is_monotonic_increasing
    assert (points.iloc[0].tolist(), points.iloc[-1].tolist()) == ([0.0, 0.0], [1.0, 1.0])


def test_precision_recall_points_stay_in_the_unit_square() -> None:
    label, probability = _scored_example()

    points = precision_recall_points(label, probability)

    assert list(points.columns) == ["recall", "precision"]
    assert _within_unit_interval(points)
    assert points["recall"].is_monotonic_decreasing, "recall falls as the threshold rises"
    assert points["recall"].max() == 1.0


def test_calibration_points_have_at_most_one_row_per_bin_within_range() -> None:
    label, probability = _scored_example()

    points = calibration_points(label, probability, bins=5)

    assert list(points.columns) == ["mean_predicted", "fraction_positive"]
    assert 1 <= len(points) <= 5
    assert _within_unit_interval(points)
    assert points["mean_predicted"].is_monotonic_increasing


def test_churn_probability_is_the_positive_class_column(
    schema: FeatureSchema, valid_table: pd.DataFrame, fitted_model: Pipeline
) -> None:
    features, _ = features_and_label(valid_table, schema)

    probability = churn_probability(fitted_model, features)

    assert list(fitted_model.classes_) == [0, 1]
    np.testing.assert_array_equal(probability, fitted_model.predict_proba(features)[:, 1])


def test_feature_importance_has_one_row_per_feature_sorted_descending(
    schema: FeatureSchema, valid_table: pd.DataFrame, fitted_model: Pipeline
) -> None:
    features, label = features_and_label(valid_table, schema)
    settings = ImportanceParams(repeats=2, max_rows=len(valid_table), seed=0)

    importance = feature_importance(fitted_model, features, label, settings)

    assert list(importance.columns) == ["feature", "importance"]
    assert sorted(importance["feature"]) == sorted(schema.feature_names), "one row per feature"
    assert importance["importance"].is_monotonic_decreasing
    assert importance["importance"].abs().sum() > 0, "a fitted model depends on some feature"


def test_feature_importance_is_deterministic_for_the_same_seed(
    schema: FeatureSchema, valid_table: pd.DataFrame, fitted_model: Pipeline
) -> None:
    features, label = features_and_label(valid_table, schema)
    settings = ImportanceParams(repeats=2, max_rows=60, seed=5)

    first = feature_importance(fitted_model, features, label, settings)
    second = feature_importance(fitted_model, features, label, settings)

    pd.testing.assert_frame_equal(first, second)


def test_prediction_latency_reports_positive_timings_for_the_configured_batch(
    schema: FeatureSchema, valid_table: pd.DataFrame, fitted_model: Pipeline
) -> None:
    features, _ = features_and_label(valid_table, schema)
    # more batch rows than the table holds: rows are reused to fill the batch
    settings = LatencyParams(single_row_calls=3, batch_rows=250, batch_calls=2)

    latency = prediction_latency(fitted_model, features, settings)

    assert latency["batch_rows"] == 250
    timings = {name: value for name, value in latency.items() if name != "batch_rows"}
    assert set(timings) == {
        "single_row_latency_ms_p50",
        "single_row_latency_ms_p95",
        "batch_latency_ms_p50",
        "batch_latency_ms_p95",
        "batch_rows_per_second",
    }
    assert all(value > 0 for value in timings.values()), timings
    assert latency["single_row_latency_ms_p95"] >= latency["single_row_latency_ms_p50"]
    assert latency["batch_latency_ms_p95"] >= latency["batch_latency_ms_p50"]


def test_prediction_latency_works_with_a_single_call() -> None:
    class ConstantModel:
        def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
            return np.full((len(features), 2), 0.5)

    settings = LatencyParams(single_row_calls=1, batch_rows=4, batch_calls=1)

    latency = prediction_latency(ConstantModel(), pd.DataFrame({"x": [1.0, 2.0]}), settings)

    assert latency["single_row_latency_ms_p95"] == latency["single_row_latency_ms_p50"] > 0
