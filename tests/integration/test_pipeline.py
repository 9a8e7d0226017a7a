"""The whole pipeline, run for real with git and dvc in a temporary copy of the repository.

Every expectation comes from params.yaml and schema.yaml (the gate's floors, a feature's declared
bound), so the tests hold for whatever table the project reads.
"""

import json
import math
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlloop.config import load_params
from mlloop.core.metrics import METRICS
from mlloop.core.schema import load_schema
from tests.integration.repository import PROJECT, copy_repository, run, stages_run

pytestmark = pytest.mark.integration

BELOW_THE_MINIMUM = 7
"""How far below its schema minimum the broken source puts one value."""


@pytest.fixture(scope="module")
def copied_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary copy of the repository, as committed: code, params and dvc.lock, no outputs."""
    root = tmp_path_factory.mktemp("repository")
    copy_repository(root)
    return root


@pytest.fixture(scope="module")
def committed_status(copied_repository: Path) -> dict[str, list[object]]:
    """`dvc status` of the copy before anything ran: what the committed dvc.lock disagrees with."""
    return dict(json.loads(run(["dvc", "status", "--json"], copied_repository).stdout))


@pytest.fixture(scope="module")
def repository(
    copied_repository: Path,
    committed_status: dict[str, list[object]],  # noqa: ARG001 - read before the repro changes what it reports
) -> Path:
    """The copy after one full `dvc repro --force`."""
    result = run(["dvc", "repro", "--force"], copied_repository)
    assert stages_run(result.stdout) == {"ingest", "validate", "split", "train", "evaluate"}
    return copied_repository


def test_committed_dvc_lock_matches_the_committed_code_and_params(
    committed_status: dict[str, list[object]],
) -> None:
    # Outputs are absent in a fresh copy, so upstream outputs show as 'deleted' deps; anything
    # else (a modified source file, schema or param) means dvc.lock was not updated.
    stale = {
        stage: change
        for stage, changes in committed_status.items()
        for change in changes
        if isinstance(change, dict)
        and ("changed params" in change or any(state != "deleted" for state in change.get("changed deps", {}).values()))
    }
    assert stale == {}, "dvc.lock is stale: run `make repro` and commit dvc.lock with the metrics"


def test_committed_metrics_are_what_a_fresh_reproduction_gives(repository: Path) -> None:
    # The copy started from the committed metrics.json; `dvc repro --force` rewrote it.
    committed = (PROJECT / "metrics.json").read_text()
    reproduced = (repository / "metrics.json").read_text()
    assert reproduced == committed, "metrics.json is stale: run `make repro` and commit dvc.lock and metrics"


def test_default_model_meets_every_floor_of_the_gate(repository: Path) -> None:
    # params.yaml gate.worst_acceptable: a floor for a metric where higher is better, a ceiling otherwise.
    params = load_params(repository / "params.yaml")
    metrics = json.loads((repository / params.paths.metrics).read_text())

    misses = {
        name: {"value": metrics[name], "worst acceptable": worst}
        for name, worst in params.gate.worst_acceptable.items()
        if METRICS[name].improvement(metrics[name] - worst) < 0
    }
    assert not misses, misses


def test_every_declared_output_exists(repository: Path) -> None:
    paths = load_params(repository / "params.yaml").paths
    for path in paths.model_dump().values():
        assert (repository / path).exists(), f"{path} missing after dvc repro"
    pngs = sorted(p.name for p in (repository / paths.plots).glob("*.png"))
    assert pngs == [
        "calibration.png",
        "confusion_matrix.png",
        "feature_importance.png",
        "precision_recall.png",
        "roc.png",
    ]


def test_dvc_renders_every_declared_plot(repository: Path) -> None:
    result = run(["dvc", "plots", "show", "--json"], repository)
    rendered = json.loads(result.stdout)
    assert "errors" not in rendered, rendered.get("errors")
    assert set(rendered["data"]) == {
        "ROC",
        "Precision-recall",
        "Confusion matrix",
        "Calibration",
        "Feature importance",
    }


def test_noop_repro_runs_nothing(repository: Path) -> None:
    result = run(["dvc", "repro"], repository)
    assert stages_run(result.stdout) == set(), result.stdout


def test_forced_repro_gives_byte_identical_metrics_and_model(repository: Path) -> None:
    paths = load_params(repository / "params.yaml").paths
    before = {path: (repository / path).read_bytes() for path in (paths.metrics, paths.model, paths.predictions)}
    run(["dvc", "repro", "--force"], repository)
    for path, content in before.items():
        assert (repository / path).read_bytes() == content, f"{path} changed between two forced runs"


def test_changing_a_hyperparameter_reruns_only_train_and_evaluate(repository: Path) -> None:
    params_file = repository / "params.yaml"
    original = params_file.read_text()
    params = yaml.safe_load(original)
    params["train"]["hyperparameters"]["max_iter"] += 10
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        result = run(["dvc", "repro"], repository)
        assert stages_run(result.stdout) == {"train", "evaluate"}, result.stdout
    finally:
        params_file.write_text(original)
        run(["dvc", "repro"], repository)


def test_broken_source_data_stops_the_pipeline_at_validate(repository: Path, tmp_path: Path) -> None:
    # Given a source table, its columns named as at the source, with one value below its feature's schema minimum
    params_file = repository / "params.yaml"
    params = load_params(params_file)
    schema = load_schema(repository / params.data.schema_file)
    minimums = {name: feature.min for name, feature in schema.numeric_features.items() if feature.min is not None}
    if not minimums:
        pytest.skip(f"{params.data.schema_file} declares no numeric feature with a min to break")
    feature, minimum = next(iter(minimums.items()))
    integer = schema.numeric_features[feature].type == "integer"
    bad_value = (math.ceil(minimum) if integer else minimum) - BELOW_THE_MINIMUM
    table = pd.read_parquet(repository / params.paths.raw)
    table.loc[3, feature] = bad_value
    bad_source = tmp_path / "bad.csv"
    table.rename(columns={new: old for old, new in params.data.rename.items()}).to_csv(bad_source, index=False)
    original = params_file.read_text()
    edited = yaml.safe_load(original)
    edited["data"]["source"] = str(bad_source)
    params_file.write_text(yaml.safe_dump(edited, sort_keys=False))
    model_before = (repository / params.paths.model).read_bytes()
    try:
        # When the pipeline runs
        result = run(["dvc", "repro"], repository, check=False)
        # Then validate fails loudly, names the column, the rule and the value, and nothing downstream runs
        assert result.returncode != 0
        assert stages_run(result.stdout) == {"ingest", "validate"}, result.stdout
        assert f"column '{feature}'" in result.stderr, result.stderr
        assert "greater_than_or_equal_to" in result.stderr, result.stderr
        assert f"{bad_value:g}" in result.stderr, result.stderr
        report = json.loads((repository / params.paths.validation_report).read_text())
        assert report["status"] == "failed"
        assert (repository / params.paths.model).read_bytes() == model_before
    finally:
        params_file.write_text(original)
        run(["dvc", "repro"], repository)


def test_make_run_in_a_fresh_clone_pulls_from_the_remote_instead_of_retraining(
    repository: Path, tmp_path: Path
) -> None:
    # Given a remote that holds this repository's outputs, and a fresh clone that has none of them
    remote = tmp_path / "remote"
    run(["dvc", "remote", "modify", "--local", "local", "url", str(remote)], repository)
    run(["dvc", "push"], repository)
    run(["git", "commit", "--quiet", "--all", "--allow-empty", "--message", "outputs"], repository)
    clone = tmp_path / "clone"
    run(["git", "clone", "--quiet", str(repository), str(clone)], tmp_path)
    (clone / ".venv").symlink_to(Path(sys.executable).parents[1])
    # When `make run` runs there against that remote (-o: the shared environment is already installed)
    result = run(["make", "run", f"DVC_REMOTE_URL={remote}", "-o", ".venv/.synced"], clone)
    # Then it restores every output from the remote, trains nothing, and prints the metrics table
    assert stages_run(result.stdout) == set(), result.stdout
    assert (clone / "models" / "model.joblib").read_bytes() == (repository / "models" / "model.joblib").read_bytes()
    assert "roc_auc" in result.stdout
