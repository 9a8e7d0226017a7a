"""
compare: metric deltas read in each metric's own direction, what changed in params and
dvc.lock, and a paired bootstrap that tells a real difference from resampling noise.
"""

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from mlloop.core.metrics import THRESHOLD_FREE
from mlloop.review.compare import (
    ABSENT,
    MetricRow,
    ParamChange,
    changed_stages,
    compare_metrics,
    flatten,
    paired_bootstrap,
    paired_predictions,
    params_diff,
)

# --- compare_metrics -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "baseline", "pull_request", "verdict"),
    [
        ("roc_auc", 0.80, 0.85, "better"),
        ("roc_auc", 0.85, 0.80, "worse"),
        ("average_precision", 0.60, 0.65, "better"),
        ("f1", 0.60, 0.55, "worse"),
        ("accuracy", 0.80, 0.80, "unchanged"),
        # lower is better: a falling loss is an improvement
        ("log_loss", 0.42, 0.40, "better"),
        ("log_loss", 0.40, 0.42, "worse"),
        ("log_loss", 0.40, 0.40, "unchanged"),
        ("brier", 0.14, 0.13, "better"),
        ("brier", 0.13, 0.14, "worse"),
    ],
)
def test_verdict_follows_each_metrics_direction_and_delta_is_pr_minus_baseline(
    metric: str, baseline: float, pull_request: float, verdict: str
) -> None:
    (row,) = compare_metrics({metric: baseline}, {metric: pull_request})

    assert row == MetricRow(metric, baseline, pull_request)
    assert row.verdict == verdict
    assert row.delta == pytest.approx(pull_request - baseline, abs=1e-12)


def test_a_falling_log_loss_has_a_negative_delta_and_is_better() -> None:
    (row,) = compare_metrics({"log_loss": 0.42}, {"log_loss": 0.40})

    assert row.delta is not None, "delta is PR - baseline, not an improvement score"
    assert row.delta < 0, "delta is PR - baseline, not an improvement score"
    assert row.verdict == "better"


def test_metric_only_in_the_pr_is_new_and_only_in_the_baseline_is_removed() -> None:
    baseline = {"roc_auc": 0.80, "f1": 0.50}
    pull_request = {"roc_auc": 0.82, "brier": 0.10}

    rows = compare_metrics(baseline, pull_request)

    # the PR's metrics in its own order, then those it dropped
    assert [row.metric for row in rows] == ["roc_auc", "brier", "f1"]
    _, brier, f1 = rows
    assert (brier.baseline, brier.pull_request, brier.delta, brier.verdict) == (None, 0.10, None, "new")
    assert (f1.baseline, f1.pull_request, f1.delta, f1.verdict) == (0.50, None, None, "removed")


def test_no_baseline_metrics_makes_every_row_new() -> None:
    rows = compare_metrics({}, {"roc_auc": 0.8, "log_loss": 0.4})

    assert [(row.metric, row.verdict) for row in rows] == [("roc_auc", "new"), ("log_loss", "new")]


def test_a_metric_the_registry_does_not_know_is_read_as_higher_is_better() -> None:
    # given: a metric another commit's metrics.json recorded, which this version does not register
    rising, falling = compare_metrics({"lift_at_10": 2.0, "gain": 0.5}, {"lift_at_10": 2.5, "gain": 0.25})

    assert (rising.verdict, falling.verdict) == ("better", "worse")


# --- flatten and params_diff -----------------------------------------------------------


def test_flatten_turns_nested_mappings_into_dotted_keys() -> None:
    document = {
        "train": {"estimator": "hist_gradient_boosting", "hyperparameters": {"max_depth": 4}},
        "split": {"seed": 42},
        "report": {"bootstrap": {"metrics": ["roc_auc", "brier"]}},
    }

    assert flatten(document) == {
        "train.estimator": "hist_gradient_boosting",
        "train.hyperparameters.max_depth": 4,
        "split.seed": 42,
        "report.bootstrap.metrics": ["roc_auc", "brier"],  # a list is a value, not a level
    }


def test_flatten_keeps_an_empty_mapping_as_a_value() -> None:
    assert flatten({"train": {"hyperparameters": {}}}) == {"train.hyperparameters": {}}


def test_params_diff_lists_only_changed_added_and_removed_keys_sorted() -> None:
    baseline: dict[str, Any] = {
        "split": {"test_size": 0.2, "seed": 42},
        "train": {"estimator": "hist_gradient_boosting", "hyperparameters": {"max_depth": 4, "l2_regularization": 1.0}},
    }
    pull_request: dict[str, Any] = {
        "split": {"test_size": 0.2, "seed": 42},
        "train": {"estimator": "hist_gradient_boosting", "hyperparameters": {"max_depth": 6, "max_leaf_nodes": 31}},
    }

    changes = params_diff(baseline, pull_request)

    assert changes == [
        ParamChange("train.hyperparameters.l2_regularization", 1.0, ABSENT),  # removed
        ParamChange("train.hyperparameters.max_depth", 4, 6),  # changed
        ParamChange("train.hyperparameters.max_leaf_nodes", ABSENT, 31),  # added
    ]


def test_params_diff_of_identical_params_is_empty() -> None:
    params = {"train": {"seed": 42, "hyperparameters": {"max_depth": 4}}}

    assert params_diff(params, {"train": {"seed": 42, "hyperparameters": {"max_depth": 4}}}) == []


def test_params_diff_of_a_new_section_names_each_of_its_keys() -> None:
    changes = params_diff({"split": {"seed": 42}}, {"split": {"seed": 42}, "gate": {"max_model_size_bytes": 10}})

    assert changes == [ParamChange("gate.max_model_size_bytes", ABSENT, 10)]


# --- changed_stages --------------------------------------------------------------------


def _stage(command: str, dependency_md5: str, params: dict[str, Any], output_md5: str) -> dict[str, Any]:
    """One stage entry shaped like dvc.lock's."""
    return {
        "cmd": command,
        "deps": [{"path": "data/prepared/train.parquet", "hash": "md5", "md5": dependency_md5, "size": 100}],
        "params": {"params.yaml": params},
        "outs": [{"path": "models/model.joblib", "hash": "md5", "md5": output_md5, "size": 200}],
    }


def _lock(**stages: dict[str, Any]) -> dict[str, Any]:
    return {"schema": "2.0", "stages": stages}


PREPARE = _stage("mlloop prepare", "aaa", {"split": {"seed": 42}}, "bbb")
TRAIN = _stage("mlloop train", "bbb", {"train": {"seed": 42}}, "ccc")
EVALUATE = _stage("mlloop evaluate", "ccc", {"evaluate": {"calibration_bins": 10}}, "ddd")


def test_changed_stages_lists_exactly_the_stages_whose_lock_entries_differ() -> None:
    # given: train's dependency changed; evaluate's params changed; prepare is untouched
    baseline = _lock(prepare=PREPARE, train=TRAIN, evaluate=EVALUATE)
    pull_request = _lock(
        prepare=PREPARE,
        train=_stage("mlloop train", "bbb-new", {"train": {"seed": 42}}, "ccc"),
        evaluate=_stage("mlloop evaluate", "ccc", {"evaluate": {"calibration_bins": 20}}, "ddd"),
    )

    assert changed_stages(baseline, pull_request) == ["train", "evaluate"]


def test_changed_stages_includes_added_and_removed_stages() -> None:
    baseline = _lock(prepare=PREPARE, train=TRAIN, old_report=EVALUATE)
    pull_request = _lock(prepare=PREPARE, train=TRAIN, drift=EVALUATE)

    # the PR's stages in its order, then the ones it removed
    assert changed_stages(baseline, pull_request) == ["drift", "old_report"]


def test_changed_stages_of_identical_locks_is_empty() -> None:
    lock = _lock(prepare=PREPARE, train=TRAIN)

    assert changed_stages(lock, _lock(prepare=PREPARE, train=TRAIN)) == []


# --- paired_predictions ----------------------------------------------------------------


def test_paired_predictions_match_rows_by_id_and_drop_unpaired_ids() -> None:
    baseline = pd.DataFrame(
        {"customer_id": [1, 2, 3, 4], "label": [0, 1, 0, 1], "churn_probability": [0.10, 0.80, 0.30, 0.60]}
    )
    # a different order, id 1 missing, id 5 only in the PR
    pull_request = pd.DataFrame(
        {"customer_id": [4, 5, 3, 2], "label": [1, 0, 0, 1], "churn_probability": [0.70, 0.20, 0.25, 0.90]}
    )

    paired = paired_predictions(baseline, pull_request, "customer_id").sort_values("customer_id")

    assert set(paired.columns) == {"customer_id", "label", "baseline", "pull_request"}
    assert paired["customer_id"].tolist() == [2, 3, 4]
    assert paired["label"].tolist() == [1, 0, 1]
    assert paired["baseline"].tolist() == [0.80, 0.30, 0.60]
    assert paired["pull_request"].tolist() == [0.90, 0.25, 0.70]


def test_paired_predictions_match_text_ids_of_a_retrained_pr_with_the_baselines_numeric_ids() -> None:
    # a retraining PR: fold-in turned every id into text and added production rows
    baseline = pd.DataFrame({"customer_id": [1, 2, 3], "label": [0, 1, 0], "churn_probability": [0.1, 0.8, 0.3]})
    pull_request = pd.DataFrame(
        {"customer_id": ["2", "3", "production-9"], "label": [1, 0, 1], "churn_probability": [0.9, 0.2, 0.7]}
    )

    paired = paired_predictions(baseline, pull_request, "customer_id").sort_values("customer_id")

    assert paired["customer_id"].tolist() == ["2", "3"]
    assert paired["baseline"].tolist() == [0.8, 0.3]
    assert paired["pull_request"].tolist() == [0.9, 0.2]


def test_paired_predictions_of_disjoint_test_sets_is_empty() -> None:
    baseline = pd.DataFrame({"customer_id": [1, 2], "label": [0, 1], "churn_probability": [0.1, 0.9]})
    pull_request = pd.DataFrame({"customer_id": [3, 4], "label": [0, 1], "churn_probability": [0.2, 0.8]})

    assert paired_predictions(baseline, pull_request, "customer_id").empty


# --- paired_bootstrap ------------------------------------------------------------------
#
# Simulated customers: label y ~ Bernoulli(share); each model scores a customer
#     score = mu * y + noise,  noise ~ Normal(0, 1),
# so a model's positives score Normal(mu, 1) and its negatives Normal(0, 1). The chance a
# random positive outscores a random negative is P(N(mu, 2) > 0), so the population
#     ROC AUC = Phi(mu / sqrt(2)).
# Both models score the SAME customers and their noises share a common part (correlation
# rho), as two versions of one model would: the pairs are what the paired bootstrap uses.
# A score becomes a probability through the exact posterior P(y=1 | score), which is
# calibrated (so log_loss and brier also favour the larger mu) and increasing in the score
# (so the AUC is unchanged).


def _auc(mu: float) -> float:
    """Population ROC AUC of a model whose positives score N(mu, 1) and negatives N(0, 1)."""
    return float(norm.cdf(mu / math.sqrt(2)))


def _probability(score: np.ndarray, mu: float, share: float) -> np.ndarray:
    """P(y=1 | score): log-odds = log N(score; mu, 1) - log N(score; 0, 1) + logit(share)."""
    log_odds = mu * score - mu**2 / 2 + math.log(share / (1 - share))
    probability: np.ndarray = expit(log_odds)
    return probability


def _paired_customers(
    size: int, mu_baseline: float, mu_pull_request: float, seed: int, share: float = 0.3, rho: float = 0.6
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels and both models' probabilities for `size` simulated customers."""
    rng = np.random.default_rng(seed)
    label = (rng.random(size) < share).astype(np.int64)
    shared = rng.standard_normal(size)
    own_baseline, own_pull_request = rng.standard_normal((2, size))
    noise_baseline = math.sqrt(rho) * shared + math.sqrt(1 - rho) * own_baseline  # still N(0, 1)
    noise_pull_request = math.sqrt(rho) * shared + math.sqrt(1 - rho) * own_pull_request
    return (
        label,
        _probability(mu_baseline * label + noise_baseline, mu_baseline, share),
        _probability(mu_pull_request * label + noise_pull_request, mu_pull_request, share),
    )


def test_bootstrap_is_reproducible_for_a_seed_and_differs_across_seeds() -> None:
    label, baseline, pull_request = _paired_customers(200, mu_baseline=1.0, mu_pull_request=1.2, seed=1)

    first = paired_bootstrap(label, baseline, pull_request, "brier", resamples=100, confidence=0.95, seed=7)
    again = paired_bootstrap(label, baseline, pull_request, "brier", resamples=100, confidence=0.95, seed=7)
    other = paired_bootstrap(label, baseline, pull_request, "brier", resamples=100, confidence=0.95, seed=8)

    assert again == first
    assert (other.low, other.high) != (first.low, first.high)
    assert other.observed_delta == first.observed_delta, "the observed delta uses every row, not a resample"


def test_bootstrap_interval_contains_the_true_population_difference() -> None:
    # given: a population of 100,000 customers, 30% churners, and two models with
    #   mu = 1.0: AUC = Phi(1.0 / sqrt 2) = Phi(0.7071) = 0.7602
    #   mu = 1.3: AUC = Phi(1.3 / sqrt 2) = Phi(0.9192) = 0.8210
    # so the PR's true improvement is 0.0608.
    mu_baseline, mu_pull_request = 1.0, 1.3
    true_delta = _auc(mu_pull_request) - _auc(mu_baseline)
    assert true_delta == pytest.approx(0.0608, abs=1e-4)
    label, baseline, pull_request = _paired_customers(100_000, mu_baseline, mu_pull_request, seed=2024)
    # the simulation is what the comment says: the population's AUCs are the analytic ones
    assert roc_auc_score(label, baseline) == pytest.approx(_auc(mu_baseline), abs=0.005)
    assert roc_auc_score(label, pull_request) == pytest.approx(_auc(mu_pull_request), abs=0.005)

    # when: one test set of 1,500 customers is drawn and bootstrapped
    rows = np.random.default_rng(11).choice(len(label), size=1500, replace=False)
    result = paired_bootstrap(
        label[rows], baseline[rows], pull_request[rows], "roc_auc", resamples=300, confidence=0.95, seed=42
    )

    # then: the 95% interval covers the truth, and is narrow enough to say something
    assert result.low <= true_delta <= result.high, result
    assert result.high - result.low < 0.08, f"an interval this wide says nothing: {result}"
    assert result.significant, "a 0.06 AUC gain is detectable on 1,500 paired rows"
    assert (result.metric, result.confidence, result.resamples) == ("roc_auc", 0.95, 300)


def test_a_clearly_better_model_is_significant() -> None:
    # AUC Phi(0.5 / sqrt 2) = 0.64 against Phi(2 / sqrt 2) = 0.92
    label, baseline, pull_request = _paired_customers(400, mu_baseline=0.5, mu_pull_request=2.0, seed=3)

    result = paired_bootstrap(label, baseline, pull_request, "roc_auc", resamples=100, confidence=0.95, seed=0)

    assert result.significant
    assert result.low > 0.15, result


def test_identical_models_give_an_interval_of_exactly_zero_and_are_not_significant() -> None:
    label, baseline, _ = _paired_customers(300, mu_baseline=1.0, mu_pull_request=1.0, seed=4)

    result = paired_bootstrap(label, baseline, baseline.copy(), "roc_auc", resamples=50, confidence=0.95, seed=0)

    assert (result.observed_delta, result.low, result.high) == (0.0, 0.0, 0.0)
    assert not result.significant


@pytest.mark.parametrize("metric", sorted(THRESHOLD_FREE))
def test_bootstrap_works_for_every_threshold_free_metric_in_its_own_direction(metric: str) -> None:
    # given: a much better PR model, calibrated, so every metric favours it
    label, baseline, pull_request = _paired_customers(400, mu_baseline=0.5, mu_pull_request=2.0, seed=5)
    score = THRESHOLD_FREE[metric].score

    result = paired_bootstrap(label, baseline, pull_request, metric, resamples=60, confidence=0.9, seed=0)

    assert (result.metric, result.resamples, result.confidence) == (metric, 60, 0.9)
    assert result.observed_delta == pytest.approx(score(label, pull_request) - score(label, baseline))
    assert result.low <= result.observed_delta <= result.high, result
    assert result.significant, result
    # positive improvement at both ends: up for roc_auc and average_precision, down for losses
    improvement = THRESHOLD_FREE[metric].improvement
    assert improvement(result.low) > 0, result
    assert improvement(result.high) > 0, result


def test_bootstrap_skips_resamples_that_hold_one_class_only() -> None:
    # given: 1 churner in 20 customers; about (19/20)^20 = 36% of resamples miss it
    label = np.array([1] + [0] * 19)
    baseline = np.linspace(0.05, 0.6, 20)
    pull_request = baseline[::-1].copy()

    result = paired_bootstrap(label, baseline, pull_request, "roc_auc", resamples=100, confidence=0.95, seed=0)

    assert 0 < result.resamples < 100, "one-class resamples are skipped, not scored"
    assert math.isfinite(result.low)
    assert math.isfinite(result.high)


def test_bootstrap_of_a_single_class_test_set_is_a_clear_error_not_an_index_error() -> None:
    label = np.ones(10, dtype=np.int64)
    probability = np.linspace(0.1, 0.9, 10)

    with pytest.raises(ValueError, match="single class"):
        paired_bootstrap(label, probability, probability, "roc_auc", resamples=100, confidence=0.95, seed=0)
