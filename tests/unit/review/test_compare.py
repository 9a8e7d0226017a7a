"""
compare: metric deltas read in each metric's own direction, what changed in params and
dvc.lock, and the test rows both models scored.
"""

from typing import Any

import pandas as pd
import pytest

from mlloop.review.compare import (
    ABSENT,
    MetricRow,
    ParamChange,
    changed_stages,
    compare_metrics,
    flatten,
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
