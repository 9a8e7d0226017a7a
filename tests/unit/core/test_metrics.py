"""
The metrics registry: each metric's name, the direction in which it is better, and whether it
scores the probabilities or the decisions at the model's threshold, declared once.
"""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from mlloop.core.metrics import METRICS, THRESHOLD_FREE, decisions, improvement

LABEL = np.array([0, 0, 0, 1, 1, 1, 0, 1])
PERFECT = np.array([0.05, 0.1, 0.2, 0.8, 0.9, 0.95, 0.15, 0.85])
"""Every churner above every stayer, confidently: the best value of every metric."""
REVERSED = 1 - PERFECT
"""Every churner below every stayer: the worst ranking, confidently wrong."""


def test_the_registry_names_the_metrics_that_metrics_json_records() -> None:
    assert list(METRICS) == [
        "roc_auc",
        "average_precision",
        "f1",
        "precision",
        "recall",
        "accuracy",
        "log_loss",
        "brier",
    ]
    assert all(metric.name == name for name, metric in METRICS.items()), "each metric is filed under its own name"


def test_only_the_losses_are_better_when_lower() -> None:
    lower = [name for name, metric in METRICS.items() if metric.better == "lower"]

    assert lower == ["log_loss", "brier"]


def test_threshold_free_metrics_are_those_of_the_probabilities_alone() -> None:
    assert list(THRESHOLD_FREE) == ["roc_auc", "average_precision", "log_loss", "brier"]
    assert all(not METRICS[name].at_threshold for name in THRESHOLD_FREE)


@pytest.mark.parametrize("name", list(METRICS))
def test_a_perfect_model_beats_a_reversed_one_in_each_metrics_own_direction(name: str) -> None:
    metric = METRICS[name]

    perfect = metric.compute(LABEL, PERFECT, threshold=0.5)
    reversed_ = metric.compute(LABEL, REVERSED, threshold=0.5)

    assert metric.improvement(perfect - reversed_) > 0, (perfect, reversed_)
    assert isinstance(perfect, float), "metrics.json holds plain floats"


def test_decision_metrics_move_with_the_threshold_and_the_others_do_not() -> None:
    # at 0.5 every decision is right; at 0.9 only two of the four churners are called positive,
    # so precision stays 1 while recall, f1 and accuracy fall
    for name, metric in METRICS.items():
        at_half = metric.compute(LABEL, PERFECT, threshold=0.5)
        at_high = metric.compute(LABEL, PERFECT, threshold=0.9)
        if metric.at_threshold and name != "precision":
            assert at_high < at_half, name
        else:
            assert at_high == at_half, f"{name} must not depend on the threshold"


def test_a_probability_equal_to_the_threshold_is_a_positive_decision() -> None:
    assert decisions(np.array([0.39, 0.4, 0.41]), threshold=0.4).tolist() == [0, 1, 1]


@pytest.mark.parametrize(
    ("name", "delta", "expected"),
    [("roc_auc", 0.02, 0.02), ("f1", -0.01, -0.01), ("log_loss", -0.03, 0.03), ("brier", 0.01, -0.01)],
)
def test_improvement_is_positive_when_the_metric_got_better(name: str, delta: float, expected: float) -> None:
    assert improvement(name, delta) == expected
    assert METRICS[name].improvement(delta) == expected


def test_a_name_the_registry_does_not_know_improves_when_it_rises() -> None:
    assert improvement("lift_at_10", 0.5) == 0.5


def test_loading_params_leaves_scikit_learn_unloaded() -> None:
    # every command loads params.yaml, `mlloop path` among them; sklearn would cost each seconds
    code = "import sys, mlloop.cli, mlloop.config; print(sorted(m for m in sys.modules if 'sklearn' in m))"

    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    assert loaded.strip() == "[]", loaded


@pytest.mark.parametrize("seed", range(40))
def test_roc_auc_is_scikit_learns_to_the_last_bit(seed: int) -> None:
    # given: rows of either class in any share, probabilities rounded to 0 to 4 places (from every row tied to
    # none), unweighted and weighted by row counts as the outcome cells weigh them; a bool or an int label
    rng = np.random.default_rng(seed)
    rows = int(rng.integers(2, 5000))
    label = np.resize([True, False], rows) if seed % 4 == 0 else rng.random(rows) < rng.uniform(0.02, 0.98)
    probability = np.round(rng.beta(0.6, 1.6, rows) * 0.5 + label * rng.uniform(0, 0.5), seed % 5)
    counts = rng.integers(1, 1000, rows)
    as_given = label if seed % 2 else label.astype(np.int64)

    # when / then: equal as floats, not approximately
    for weight in (None, counts):
        assert METRICS["roc_auc"].score(as_given, probability, sample_weight=weight) == roc_auc_score(
            label, probability, sample_weight=weight
        ), (rows, weight is None)


def test_roc_auc_of_one_class_is_undefined() -> None:
    assert np.isnan(METRICS["roc_auc"].score(np.array([1, 1, 1]), np.array([0.2, 0.5, 0.9])))
    assert np.isnan(METRICS["roc_auc"].score(np.array([False, False]), np.array([0.2, 0.5])))


def test_scoring_roc_auc_leaves_scikit_learn_unloaded() -> None:
    # the drift check scores the realised ROC AUC; importing sklearn for it would cost its start a second
    code = (
        "import sys, numpy as np; from mlloop.core.metrics import METRICS; "
        "METRICS['roc_auc'].compute(np.array([0, 1, 1]), np.array([0.2, 0.4, 0.9]), 0.5, np.array([3, 1, 2])); "
        "print(sorted(m for m in sys.modules if 'sklearn' in m))"
    )

    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout

    assert loaded.strip() == "[]", loaded


@pytest.mark.parametrize("name", list(THRESHOLD_FREE))
def test_each_resampled_score_is_the_metric_of_the_rows_each_resample_drew(name: str) -> None:
    # given: probabilities rounded to two places, so many rows tie, and 30 resamples of 500 rows
    rng = np.random.default_rng(3)
    label = (rng.random(500) < 0.3).astype(np.int64)
    probability = np.round(1 / (1 + np.exp(1 - 1.5 * label - rng.standard_normal(500))), 2)
    draws = rng.integers(0, 500, size=(30, 500))
    metric = THRESHOLD_FREE[name]
    assert metric.resampled is not None, f"{name} scores the probabilities alone: the bootstrap needs it"

    # when
    resampled = metric.resampled(label, probability, draws)

    # then
    one_by_one = [metric.score(label[rows], probability[rows]) for rows in draws]
    assert resampled == pytest.approx(one_by_one, abs=1e-12)
    assert len(set(probability.tolist())) < 100, "the rows tie, as a model's rounded probabilities do"


@pytest.mark.parametrize("name", ["roc_auc", "average_precision"])
def test_a_resample_of_one_class_has_no_ranking_score(name: str) -> None:
    label = np.array([0, 0, 1, 1])
    probability = np.array([0.1, 0.2, 0.7, 0.9])
    negatives_only = np.array([[0, 1, 0, 1], [0, 2, 3, 1]])
    resampled = METRICS[name].resampled
    assert resampled is not None

    scores = resampled(label, probability, negatives_only)

    assert np.isnan(scores[0]), "a ranking of stayers alone is undefined"
    assert scores[1] == 1.0, "the next resample, holding both classes, is scored"
