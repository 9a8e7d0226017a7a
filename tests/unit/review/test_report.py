"""
report: the significance of the PR's difference on the rows both models scored, with this
workspace's predictions read as every pipeline artifact is (a bad file is exit 4, naming it),
and the report written where it was asked to go.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlloop.config import Params
from mlloop.core.metrics import METRICS, THRESHOLD_FREE
from mlloop.errors import ConfigError, SourceError
from mlloop.review import report
from mlloop.review.baseline import Baseline, Snapshot

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
