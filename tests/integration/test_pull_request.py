"""The pull-request loop for real: a temporary git repository with `main` and a branch that
changes params, reproduced with dvc, then `mlloop report` and `mlloop gate` against `main`.

The expectations come from params.yaml and the two commits' own metrics, for whatever table the project reads.
"""

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlloop.config import load_params
from mlloop.core.metrics import METRICS
from tests.integration.repository import copy_repository, run, stages_run

pytestmark = pytest.mark.integration

REPORT = Path("reports/pr/report.md")
BOOTSTRAP_ROW = re.compile(r"^\| (roc_auc|average_precision) \| [+-]\d\.\d{4} \| \[.*\] \| .* \|$", re.MULTILINE)
RATIO_ROW = re.compile(
    r"^\| (single-row|batch) call \| \d+\.\d\d× \| \[\d+\.\d\d×, \d+\.\d\d×\] "
    r"\| (\*\*slower\*\*|\*\*faster\*\*|within noise) \|$",
    re.MULTILINE,
)
FLOOR_ABOVE_THE_PR = 0.01
"""How far above the PR's ROC AUC the failing gate sets its floor: a floor the PR misses, on any table."""


def _edit_params(root: Path, change: dict[str, dict[str, object]]) -> None:
    params_file = root / "params.yaml"
    params = yaml.safe_load(params_file.read_text())
    for section, values in change.items():
        params[section] |= values
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))


def _table_row(report: str, first_cell: str) -> list[str]:
    for line in report.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0] == first_cell:
            return cells
    raise AssertionError(f"no table row for {first_cell!r} in:\n{report}")


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`main` reproduced and committed; branch `pr` switches the estimator to logistic regression."""
    root = tmp_path_factory.mktemp("pull_request")
    copy_repository(root)
    run(["dvc", "repro"], root)
    run(["git", "commit", "--quiet", "--all", "--message", "main: reproduced"], root)
    run(["git", "checkout", "--quiet", "-b", "pr"], root)
    _edit_params(root, {"train": {"estimator": "logistic_regression", "hyperparameters": {"C": 1.0, "max_iter": 1000}}})
    result = run(["dvc", "repro"], root)
    assert stages_run(result.stdout) == {"train", "evaluate"}, result.stdout
    run(["git", "commit", "--quiet", "--all", "--message", "pr: logistic regression"], root)
    return root


@pytest.fixture(scope="module")
def report(repository: Path) -> str:
    run(["mlloop", "report", "--baseline", "main"], repository)
    return (repository / REPORT).read_text()


def _metrics(root: Path, ref: str) -> dict[str, float]:
    return dict(json.loads(run(["git", "show", f"{ref}:metrics.json"], root).stdout))


def test_metrics_table_shows_baseline_pr_delta_and_direction_markers(repository: Path, report: str) -> None:
    main, pull_request = _metrics(repository, "main"), _metrics(repository, "pr")
    for metric in ("roc_auc", "log_loss", "f1"):
        row = _table_row(report, metric)
        delta = pull_request[metric] - main[metric]
        assert row[1:4] == [f"{main[metric]:.4f}", f"{pull_request[metric]:.4f}", f"{delta:+.4f}"], row
        better = delta < 0 if metric == "log_loss" else delta > 0
        assert ("better" in row[4]) == better, row
        assert ("worse" in row[4]) == (not better and delta != 0), row


def test_header_names_both_commits_and_footer_says_how_to_reproduce(repository: Path, report: str) -> None:
    main_sha = run(["git", "rev-parse", "main"], repository).stdout.strip()
    pr_sha = run(["git", "rev-parse", "pr"], repository).stdout.strip()
    header = report.splitlines()[0]
    assert main_sha[:7] in header, header
    assert pr_sha[:7] in header, header
    assert f"git checkout {pr_sha[:12]} && make run && make report BASELINE=main" in report


def test_params_diff_shows_only_what_changed_and_the_stages_that_reran(report: str) -> None:
    assert _table_row(report, "`train.estimator`")[1:] == ["`hist_gradient_boosting`", "`logistic_regression`"]
    assert _table_row(report, "`train.hyperparameters.C`")[1:] == ["(absent)", "`1.0`"]
    assert "`split.seed`" not in report
    assert "`data.source`" not in report
    stages_line = next(line for line in report.splitlines() if line.startswith("Stages whose"))
    assert "`train`" in stages_line, stages_line
    assert "`evaluate`" in stages_line, stages_line
    assert "`ingest`" not in stages_line, stages_line


def test_significance_uses_the_baselines_predictions_and_is_reproducible(repository: Path, report: str) -> None:
    rows = BOOTSTRAP_ROW.findall(report)
    assert rows == ["roc_auc", "average_precision"], report
    test_rows = len(pd.read_parquet(repository / load_params(repository / "params.yaml").paths.test))
    assert f"{test_rows} test customers" in report
    run(["mlloop", "report", "--baseline", "main"], repository)
    again = (repository / REPORT).read_text()
    intervals = [match.group(0) for match in BOOTSTRAP_ROW.finditer(report)]
    assert intervals, report
    assert [match.group(0) for match in BOOTSTRAP_ROW.finditer(again)] == intervals, (
        "same seed, same predictions: the intervals must not move"
    )


def test_report_has_charts_validation_and_serving_cost(repository: Path, report: str) -> None:
    assert report.count("```mermaid") == 2
    assert "#### Confusion matrices" in report
    assert _table_row(report, "main")[1] == "passed" or "### Data validation" in report
    assert "### Serving cost" in report
    assert "Timed in this run, in one process: both models, called in turn" in report
    assert [match.group(1) for match in RATIO_ROW.finditer(report)] == ["single-row", "batch"], report
    cost = report[report.index("### Serving cost") :]
    for side in ("main", "this PR"):
        assert _table_row(cost, side)[2].endswith(" ms"), f"{side} was timed in this run"
    for png in ("compare_roc.png", "compare_precision_recall.png", "compare_confusion.png"):
        assert (repository / REPORT.parent / png).stat().st_size > 0, png


def test_gate_passes_a_model_that_holds_every_rule(repository: Path) -> None:
    # Against itself the PR has no regression, and it meets the default floors, latency and size.
    params = load_params(repository / "params.yaml")
    result = run(["mlloop", "gate", "--baseline", "pr"], repository)
    assert "gate passed" in result.stdout, result.stdout
    assert "FAIL" not in result.stdout, result.stdout
    interval = f"{params.report.serving_cost.confidence:.0%} interval low end"
    for workload in ("single-row", "batch"):
        rule = f"PASS {workload} latency ratio vs baseline ({interval}) <= {params.gate.max_latency_ratio:.10g}:"
        assert rule in result.stdout, result.stdout


def test_gate_fails_listing_every_broken_rule_with_its_numbers(repository: Path) -> None:
    # Given a regression limit half the PR's worsening on a metric where it is worse than main
    # (ROC AUC on the demo dataset), and a ROC AUC floor just above the PR's own
    params_file = repository / "params.yaml"
    original = params_file.read_text()
    main, pull_request = _metrics(repository, "main"), _metrics(repository, "pr")
    regressions = {name: -METRICS[name].improvement(pull_request[name] - main[name]) for name in METRICS}
    worse = [name for name in sorted(METRICS, key=lambda name: name != "roc_auc") if regressions[name] > 0]
    assert worse, f"the test needs the PR to be worse than main on some metric: {regressions}"
    metric, regression = worse[0], regressions[worse[0]]
    floor = round(pull_request["roc_auc"] + FLOOR_ABOVE_THE_PR, 4)
    gate = yaml.safe_load(original)["gate"]
    gate["max_regression"] = {metric: regression / 2}
    gate["worst_acceptable"] = {"roc_auc": floor}
    _edit_params(repository, {"gate": gate})
    try:
        # When the gate runs
        result = run(["mlloop", "gate", "--baseline", "main"], repository, check=False)
    finally:
        params_file.write_text(original)
    # Then it fails naming both rules, each with its limit and value
    assert result.returncode == 5, result.stdout + result.stderr
    assert f"FAIL {metric} regression vs baseline <= {regression / 2:.10g}: {regression:.10g}" in result.stdout
    assert f"FAIL roc_auc >= {floor:.10g}: {pull_request['roc_auc']:.10g}" in result.stdout
    assert "2 gate rule(s) failed" in result.stderr, result.stderr


def test_first_pr_against_a_baseline_without_metrics_reports_the_pr_alone(repository: Path) -> None:
    empty_tree = run(["git", "hash-object", "-t", "tree", "/dev/null"], repository).stdout.strip()
    empty_commit = run(["git", "commit-tree", empty_tree, "-m", "empty"], repository).stdout.strip()
    run(["git", "branch", "--force", "empty", empty_commit], repository)

    run(["mlloop", "report", "--baseline", "empty"], repository)
    gate = run(["mlloop", "gate", "--baseline", "empty"], repository)

    text = (repository / REPORT).read_text()
    assert "Baseline `empty` has no metrics yet (the first PR?)" in text
    assert _table_row(text, "roc_auc")[4].endswith("new"), text
    assert "No params changed." in text
    assert "Is the difference real?" not in text
    assert "no baseline metrics: regression rules were not applied" in gate.stdout
    assert "regression vs baseline" not in gate.stdout
    assert "baseline model not timed: latency ratio rules were not applied" in gate.stdout
    assert "PASS single-row latency p50 (ms) <= 100:" in gate.stdout, "the PR's own ceiling still applies"
    assert "> No baseline model to time: this PR's model was timed alone." in text


def test_missing_baseline_ref_is_a_note_not_a_crash(repository: Path) -> None:
    run(["mlloop", "report", "--baseline", "no-such-branch"], repository)
    assert "Baseline `no-such-branch` was not found" in (repository / REPORT).read_text()


def test_unreproduced_pipeline_is_refused_with_a_message_in_the_report(repository: Path) -> None:
    params_file = repository / "params.yaml"
    original = params_file.read_text()
    _edit_params(repository, {"split": {"seed": 7}})
    try:
        result = run(["mlloop", "report", "--baseline", "main"], repository, check=False)
    finally:
        params_file.write_text(original)
    assert result.returncode == 4, result.stderr
    assert "not reproduced" in result.stderr, result.stderr
    assert "make repro" in result.stderr, result.stderr
    assert "not reproduced" in (repository / REPORT).read_text()


def test_baseline_missing_from_cache_and_remote_is_reproduced_in_a_worktree_and_cached(repository: Path) -> None:
    # Given: no DVC cache at all (as on a fork's runner with no remote); the PR's outputs are in the workspace
    cache = repository / ".dvc" / "cache"
    shutil.rmtree(cache)
    run(["dvc", "remote", "modify", "--local", "local", "url", str(repository / "no-remote")], repository)

    # When
    run(["mlloop", "report", "--baseline", "main"], repository)

    # Then: significance was computed from main's own reproduction, whose outputs are now cached
    assert BOOTSTRAP_ROW.findall((repository / REPORT).read_text()) == ["roc_auc", "average_precision"]
    worktrees = run(["git", "worktree", "list"], repository).stdout.strip().splitlines()
    assert len(worktrees) == 1, f"the temporary worktree must be removed: {worktrees}"
    main_lock = yaml.safe_load(run(["git", "show", "main:dvc.lock"], repository).stdout)
    predictions = next(o for o in main_lock["stages"]["evaluate"]["outs"] if o["path"].endswith("predictions.parquet"))
    digest = predictions["md5"]
    assert (cache / "files" / "md5" / digest[:2] / digest[2:]).exists(), "baseline predictions were not cached"
