"""
report: the significance of the PR's difference on the rows both models scored, with this
workspace's predictions read as every pipeline artifact is (a bad file is exit 4, naming it),
both models timed in this process (a baseline model that cannot be had is a note) once per PR
(the gate reuses the report's timing of the same models), and the report written where it was
asked to go.
"""

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from mlloop.config import Params
from mlloop.core.metrics import METRICS, THRESHOLD_FREE
from mlloop.core.model import build_pipeline
from mlloop.core.schema import FeatureSchema, features_and_label
from mlloop.errors import ConfigError, SourceError
from mlloop.review import report
from mlloop.review.baseline import Baseline, Snapshot
from mlloop.review.serving_cost import ServingCost

BASELINE_SHA = "0f1e2d3c4b5a69788796a5b4c3d2e1f0aabbccdd"
RECORDED = Snapshot(metrics={"roc_auc": 0.8}, performance=None, params=None, lock=None, validation=None)


def _predictions(probability: np.ndarray) -> pd.DataFrame:
    """Customers 1, 2, ..., every fourth a churner, one per probability."""
    customers = np.arange(1, len(probability) + 1)
    return pd.DataFrame(
        {"customer_id": customers, "label": (customers % 4 == 0).astype("int64"), "churn_probability": probability}
    )


@pytest.fixture
def baseline(monkeypatch: pytest.MonkeyPatch) -> Baseline:
    """A baseline commit that recorded metrics, whose predictions a noisy ranker made."""
    noisy = np.random.default_rng(0).uniform(0, 1, 40)
    monkeypatch.setattr(report, "predictions_at", lambda _sha, _params: _predictions(noisy))
    return Baseline("main", BASELINE_SHA, RECORDED, [])


def test_corrupt_workspace_predictions_are_a_source_error_naming_the_file(params: Params, baseline: Baseline) -> None:
    params.paths.predictions.parent.mkdir(parents=True)
    params.paths.predictions.write_bytes(b"not a parquet file")

    with pytest.raises(SourceError) as raised:
        report.significance(params, baseline)
    assert str(params.paths.predictions) in str(raised.value)
    assert raised.value.exit_code == 4


def test_missing_workspace_predictions_say_which_stage_makes_them(params: Params, baseline: Baseline) -> None:
    with pytest.raises(SourceError, match="evaluate") as raised:
        report.significance(params, baseline)
    assert str(params.paths.predictions) in str(raised.value)


def test_significance_bootstraps_each_configured_metric_on_the_paired_rows(params: Params, baseline: Baseline) -> None:
    # given: this workspace's model ranks every churner first
    params.paths.predictions.parent.mkdir(parents=True)
    customers = np.arange(1, 41)
    _predictions(np.where(customers % 4 == 0, 0.9, 0.1)).to_parquet(params.paths.predictions)
    settings = params.report.bootstrap.model_copy(update={"resamples": 100})
    params = params.model_copy(update={"report": params.report.model_copy(update={"bootstrap": settings})})

    significance = report.significance(params, baseline)

    assert [result.metric for result in significance.results] == params.report.bootstrap.metrics
    assert significance.paired_rows == 40
    assert significance.notes == []
    assert all(result.resamples == 100 for result in significance.results)


def test_a_baseline_without_predictions_is_a_note_not_an_error(
    params: Params, baseline: Baseline, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(sha: str, _params: Params) -> pd.DataFrame:
        raise SourceError(f"reproducing baseline {sha[:12]} failed")

    monkeypatch.setattr(report, "predictions_at", unavailable)

    significance = report.significance(params, baseline)

    assert (significance.results, significance.paired_rows) == ([], 0)
    assert significance.notes == [
        f"Significance not computed: no baseline predictions (reproducing baseline {BASELINE_SHA[:12]} failed)."
    ]


def test_an_unreproduced_workspace_is_reported_in_the_out_directory(
    params: Params, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stale(_params: Params) -> Snapshot:
        raise SourceError("the pipeline was not reproduced: stages ['train'] are out of date; run `make repro`")

    monkeypatch.setattr(report, "workspace_snapshot", stale)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "elsewhere"

    with pytest.raises(SourceError):
        report.run_report(params, "main", out)

    assert "> ❌ the pipeline was not reproduced" in (out / params.report.report_file.name).read_text()
    assert not params.report.directory.exists(), "--out replaces report.directory, it does not add to it"


@pytest.mark.parametrize(
    ("rule", "name"), [("worst_acceptable", "roc_aucc"), ("max_regression", "auc")], ids=["floor", "regression"]
)
def test_a_gate_rule_on_an_unknown_metric_is_refused_naming_the_field_the_name_and_the_metrics(
    params: Params, rule: str, name: str
) -> None:
    limits = getattr(params.gate, rule) | {name: 0.5}
    params = params.model_copy(update={"gate": params.gate.model_copy(update={rule: limits})})

    with pytest.raises(ConfigError) as raised:
        report.check_metric_names(params)
    message = str(raised.value)
    assert f"gate.{rule}.{name}: {name!r}" in message, message
    assert ", ".join(METRICS) in message, f"the message must list the known metrics: {message}"


def test_the_bootstrap_refuses_a_metric_of_the_decisions_naming_the_threshold_free_ones(params: Params) -> None:
    # two models may cut at different thresholds, so only metrics of the probabilities compare
    settings = params.report.bootstrap.model_copy(update={"metrics": ["roc_auc", "f1"]})
    params = params.model_copy(update={"report": params.report.model_copy(update={"bootstrap": settings})})

    with pytest.raises(ConfigError) as raised:
        report.check_metric_names(params)
    message = str(raised.value)
    assert "report.bootstrap.metrics.1: 'f1'" in message, message
    assert ", ".join(THRESHOLD_FREE) in message, message


def test_the_gate_command_refuses_an_unknown_metric_before_reading_any_baseline(params: Params) -> None:
    gate = params.gate.model_copy(update={"max_regression": {"auc": 0.01}})

    with pytest.raises(ConfigError, match=r"gate\.max_regression\.auc"):
        report.run_gate(params.model_copy(update={"gate": gate}), "no-such-ref")


# --- serving cost ----------------------------------------------------------------------


def _fitted(table: pd.DataFrame, schema: FeatureSchema) -> Pipeline:
    features, label = features_and_label(table, schema)
    return build_pipeline(schema, "logistic_regression", {}, seed=0).fit(features, label)


@pytest.fixture
def timed_workspace(params: Params, valid_table: pd.DataFrame, schema: FeatureSchema) -> Params:
    """This workspace's test split and model on disk, and serving-cost settings cut down to stay fast."""
    params.paths.test.parent.mkdir(parents=True)
    valid_table.to_parquet(params.paths.test)
    params.paths.model.parent.mkdir(parents=True)
    joblib.dump(_fitted(valid_table, schema), params.paths.model)
    settings = params.report.serving_cost.model_copy(
        update={"single_row_calls": 4, "batch_rows": 50, "batch_calls": 3, "warmup_calls": 1, "resamples": 100}
    )
    return params.model_copy(update={"report": params.report.model_copy(update={"serving_cost": settings})})


def test_serving_cost_times_the_baseline_model_in_turn_with_this_workspaces(
    timed_workspace: Params,
    baseline: Baseline,
    valid_table: pd.DataFrame,
    schema: FeatureSchema,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []

    def baseline_model(sha: str, _params: Params) -> Pipeline:
        asked.append(sha)
        return _fitted(valid_table, schema)

    monkeypatch.setattr(report, "model_at", baseline_model)

    cost = report.measure_serving_cost(timed_workspace, baseline)

    assert asked == [BASELINE_SHA]
    assert cost.note is None
    assert (cost.single_row.rows, cost.batch.rows) == (1, 50)
    for workload in cost.workloads.values():
        assert workload.baseline is not None
        assert workload.ratio is not None
        assert len(workload.baseline.milliseconds) == workload.calls
        assert workload.ratio.resamples == 100
    assert (cost.single_row.calls, cost.batch.calls) == (4, 3)


def test_a_baseline_model_that_cannot_be_had_is_a_note_and_this_prs_model_is_timed_alone(
    timed_workspace: Params, baseline: Baseline, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(sha: str, _params: Params) -> Pipeline:
        raise SourceError(f"reproducing baseline {sha[:12]} failed")

    monkeypatch.setattr(report, "model_at", unavailable)

    cost = report.measure_serving_cost(timed_workspace, baseline)

    assert cost.note == (
        f"Baseline model not timed (reproducing baseline {BASELINE_SHA[:12]} failed): this PR's model was timed alone."
    )
    assert all(workload.ratio is None and workload.baseline is None for workload in cost.workloads.values())
    assert cost.single_row.calls == 4, "this PR's model is still timed"


def test_a_baseline_model_that_cannot_score_this_prs_rows_is_a_note(
    timed_workspace: Params,
    baseline: Baseline,
    valid_table: pd.DataFrame,
    schema: FeatureSchema,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: the baseline's model was trained on a column this PR's schema no longer has
    older = valid_table.assign(retired_feature=1.0)
    older_schema = schema.model_copy(
        update={"features": schema.features | {"retired_feature": schema.features["tenure"]}}
    )
    monkeypatch.setattr(report, "model_at", lambda _sha, _params: _fitted(older, older_schema))

    cost = report.measure_serving_cost(timed_workspace, baseline)

    assert cost.note is not None
    assert cost.note.startswith("Baseline model not timed (")
    assert "retired_feature" in cost.note, cost.note
    assert cost.single_row.ratio is None


def test_without_a_recorded_baseline_no_model_is_fetched_and_a_note_says_so(
    timed_workspace: Params, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(_sha: str, _params: Params) -> Pipeline:
        raise AssertionError("a baseline without metrics has no model to fetch")

    monkeypatch.setattr(report, "model_at", never)
    first_pr = Baseline("main", BASELINE_SHA, Snapshot(None, None, None, None, None), [])

    cost = report.measure_serving_cost(timed_workspace, first_pr)

    assert cost.note == "No baseline model to time: this PR's model was timed alone."
    assert cost.batch.ratio is None


@pytest.fixture
def reported(
    timed_workspace: Params,
    baseline: Baseline,
    valid_table: pd.DataFrame,
    schema: FeatureSchema,
    monkeypatch: pytest.MonkeyPatch,
) -> ServingCost:
    """What `report` leaves beside report.md: its measurement of both models and the inputs it was taken on."""
    monkeypatch.setattr(report, "model_at", lambda _sha, _params: _fitted(valid_table, schema))
    measured = report.measure_serving_cost(timed_workspace, baseline)
    timed_workspace.report.directory.mkdir(parents=True)
    recorded = report.RecordedServingCost(inputs=report.timed_inputs(timed_workspace, baseline), cost=measured)
    timed_workspace.report.serving_cost_file.write_text(recorded.model_dump_json())
    return measured


def test_the_gate_reuses_the_reports_measurement_of_the_same_models(
    timed_workspace: Params, baseline: Baseline, reported: ServingCost, monkeypatch: pytest.MonkeyPatch
) -> None:
    def never(_params: Params, _baseline: Baseline) -> ServingCost:
        raise AssertionError("the report already timed these two models")

    monkeypatch.setattr(report, "measure_serving_cost", never)

    cost, source = report.serving_cost_for_gate(timed_workspace, baseline)

    assert cost == reported
    assert source == f"serving cost: as the report measured it ({timed_workspace.report.serving_cost_file})"


@pytest.mark.usefixtures("reported")
@pytest.mark.parametrize("change", ["retrained model", "other baseline", "other settings"])
def test_the_gate_times_again_when_the_report_measured_other_inputs(
    change: str,
    timed_workspace: Params,
    baseline: Baseline,
    valid_table: pd.DataFrame,
    schema: FeatureSchema,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    params = timed_workspace
    if change == "retrained model":
        joblib.dump(_fitted(valid_table.iloc[::-1], schema), params.paths.model, compress=3)
    elif change == "other baseline":
        baseline = Baseline("main", "1" * 40, RECORDED, [])
    else:
        settings = params.report.serving_cost.model_copy(update={"batch_calls": 2})
        params = params.model_copy(update={"report": params.report.model_copy(update={"serving_cost": settings})})
    fresh = report.measure_serving_cost(params, baseline)
    monkeypatch.setattr(report, "measure_serving_cost", lambda _params, _baseline: fresh)

    cost, source = report.serving_cost_for_gate(params, baseline)

    assert cost is fresh
    assert source == "serving cost: measured now (no report of these models)"


def test_the_gate_times_the_models_when_no_report_was_written(
    timed_workspace: Params, baseline: Baseline, monkeypatch: pytest.MonkeyPatch
) -> None:
    sentinel = object()
    monkeypatch.setattr(report, "measure_serving_cost", lambda _params, _baseline: sentinel)

    assert report.serving_cost_for_gate(timed_workspace, baseline)[0] is sentinel
