"""Realised outcomes against the gate's limits: each outcome metric is scored by the registry on the
labelled rows and held to gate.worst_acceptable and to its held-out value worsened by at most
gate.max_regression. A check is degraded only on at least drift.min_labelled_rows rows, and only
when even the better end of the metric's one-sided confidence interval breaks a limit, so sampling
noise alone pages no one; the interval is computed only for a value that breaks a limit."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from mlloop.config import DriftParams, Params
from mlloop.monitoring.degradation import broken_limits, degraded_reasons, realised_metrics
from mlloop.monitoring.drift_result import Realised, RealisedMetric
from mlloop.monitoring.outcome_cells import OutcomeCells

HELD_OUT = {"roc_auc": 0.845, "log_loss": 0.42}


def _outcomes(rows: int, seed: int, flipped: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from calibrated probabilities (a ROC AUC near 0.84), a share of them flipped."""
    rng = np.random.default_rng(seed)
    probabilities = rng.beta(0.6, 1.6, size=rows)
    labels = rng.random(rows) < probabilities
    flip = rng.random(rows) < flipped
    return np.where(flip, ~labels, labels), probabilities


def _realise(
    params: Params, labels: np.ndarray, probabilities: np.ndarray, **drift: object
) -> tuple[Realised, DriftParams]:
    """The realised metrics under the real params (drift settings overridden), every label joined to its
    row, and those drift settings.
    """
    settings = params.drift.model_copy(update=drift)
    cells = OutcomeCells.of(labels, probabilities)
    metrics = realised_metrics(cells, HELD_OUT, params.train.threshold, settings, params.gate)
    realised = Realised(
        rows=len(labels), metrics=metrics, labels=len(labels), unmatched_labels=0, unreadable_label_lines=0
    )
    return realised, settings


def test_outcomes_as_good_as_held_out_are_not_degraded_and_need_no_interval(params: Params) -> None:
    labels, probabilities = _outcomes(5000, seed=1)

    realised, drift = _realise(params, labels, probabilities)

    (roc_auc,) = realised.metrics
    assert roc_auc.value == pytest.approx(0.84, abs=0.02)
    assert roc_auc.bound is None
    assert degraded_reasons(realised, drift) == []


def test_a_fifth_of_the_outcomes_flipped_is_degraded(params: Params) -> None:
    labels, probabilities = _outcomes(1000, seed=2, flipped=0.2)

    realised, drift = _realise(params, labels, probabilities)

    (roc_auc,) = realised.metrics
    assert roc_auc.bound is not None
    assert roc_auc.value < roc_auc.bound < 0.83, "the better end is still below the floor"
    (reason,) = degraded_reasons(realised, drift)
    assert reason.startswith(f"realised roc_auc {roc_auc.value:.4f} on 1000 labelled rows, {roc_auc.bound:.4f}")


def test_a_value_just_under_the_floor_on_few_rows_is_noise_not_degradation(params: Params) -> None:
    # Given 500 rows as good as held out, but whose sample happens to score under the floor
    realised, drift = next(
        (realised, drift)
        for seed in range(100)
        for realised, drift in [_realise(params, *_outcomes(500, seed))]
        if realised.metrics[0].value < 0.83
    )

    # Then the value breaks the floor, its interval reaches above it, and nothing is degraded
    (roc_auc,) = realised.metrics
    assert roc_auc.value < 0.83
    assert roc_auc.bound is not None
    assert roc_auc.bound >= 0.83
    assert degraded_reasons(realised, drift) == []


def test_fewer_rows_than_min_labelled_rows_judge_nothing(params: Params) -> None:
    labels, probabilities = _outcomes(1000, seed=2, flipped=0.5)

    realised, drift = _realise(params, labels, probabilities, min_labelled_rows=1001)

    assert realised.metrics[0].bound is None
    assert degraded_reasons(realised, drift) == []


@pytest.mark.parametrize("labels", [np.array([], dtype=bool), np.ones(600, dtype=bool)], ids=["none", "one class"])
def test_no_labels_or_labels_of_one_class_give_no_realised_metrics_and_are_not_degraded(
    params: Params, labels: np.ndarray
) -> None:
    realised, drift = _realise(params, labels, np.linspace(0, 1, len(labels)))

    assert realised.metrics == []
    assert degraded_reasons(realised, drift) == []


def test_a_lower_is_better_metric_breaks_its_ceiling_upwards() -> None:
    loss = RealisedMetric(name="log_loss", value=0.5, bound=None, test=0.42, worst_acceptable=0.45, max_regression=0.02)

    assert broken_limits(loss, 0.5) == [
        "worse than gate.worst_acceptable 0.45",
        "worse than the held-out 0.4200 by more than gate.max_regression 0.02",
    ]
    assert broken_limits(loss, 0.43) == [], "0.01 worse: within max_regression"
    assert broken_limits(loss, 0.3) == []


def test_a_limit_the_gate_does_not_set_is_not_applied() -> None:
    f1 = RealisedMetric(name="f1", value=0.1, bound=None, test=0.59, worst_acceptable=None, max_regression=None)

    assert broken_limits(f1, 0.1) == []


def test_every_outcome_metric_of_params_is_scored_with_its_limits(params: Params) -> None:
    labels, probabilities = _outcomes(2000, seed=3)
    outcomes = params.drift.outcomes.model_copy(update={"metrics": ["roc_auc", "log_loss"]})

    realised, _ = _realise(params, labels, probabilities, outcomes=outcomes)

    assert [
        (metric.name, metric.test, metric.worst_acceptable, metric.max_regression) for metric in realised.metrics
    ] == [
        ("roc_auc", 0.845, 0.83, 0.01),
        ("log_loss", 0.42, 0.45, 0.02),
    ]


def test_rows_that_repeat_score_as_the_rows_themselves(params: Params) -> None:
    # Given a week whose rows repeat a few hundred probabilities, as customers scored every night do
    labels, probabilities = _outcomes(600, seed=4, flipped=0.2)
    rows = np.random.default_rng(4).integers(0, 600, size=6000)
    cells = OutcomeCells.of(labels[rows], probabilities[rows])

    # When they are scored as cells (each distinct pair once, with its count)
    metrics = realised_metrics(cells, HELD_OUT, params.train.threshold, params.drift, params.gate)

    # Then the value is the rows' own, and the cells are far fewer than the rows
    assert len(cells.counts) < 1200 < cells.rows == 6000
    (roc_auc,) = metrics
    assert roc_auc.value == pytest.approx(roc_auc_score(labels[rows], probabilities[rows]), abs=1e-12)
