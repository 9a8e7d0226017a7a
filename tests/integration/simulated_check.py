"""The pipeline, then `mlloop simulate` and `mlloop drift` of a declared scenario, run in process beside a
params file of their own: how the scenario tests take a scenario end to end."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from mlloop.cli import main
from mlloop.monitoring.drift_result import DriftResult, read_result

STAGES = ("ingest", "validate", "split", "train", "evaluate")


def write_params(params: dict[str, Any], path: Path) -> Path:
    """`params` written to `path`, evaluation measuring less (one importance repeat on 200 rows, a few latency
    calls): the model and its predictions, which the drift check reads, are the same."""
    params["evaluate"]["importance"] |= {"repeats": 1, "max_rows": 200}
    params["evaluate"]["latency"] = {"single_row_calls": 2, "batch_rows": 10, "batch_calls": 1}
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def reproduce(params_file: Path) -> None:
    """Every stage of the pipeline, its outputs beside the params file."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(params_file.parent)
        for stage in STAGES:
            assert main(["--params", str(params_file), stage]) == 0, stage


def log_of(params_file: Path, scenario: str) -> Path:
    """Where simulate_and_check logs a scenario's traffic."""
    return params_file.parent / f"log-{scenario}"


def check_both_ways(params_file: Path, scenario: str) -> tuple[DriftResult, DriftResult]:
    """`mlloop drift` of a scenario's log (simulated first if it is not yet), from summaries and with `--exact`."""
    params, log = str(params_file), log_of(params_file, scenario)
    results = []
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(params_file.parent)
        if not log.exists():
            assert main(["--params", params, "simulate", "--scenario", scenario, "--out", str(log)]) == 0, scenario
        for reading in ([], ["--exact"]):
            report = params_file.parent / f"drift-{scenario}{'-'.join(['', *reading])}"
            assert main(["--params", params, "drift", *reading, "--current", str(log), "--out", str(report)]) == 0
            results.append(read_result(report))
    return results[0], results[1]


def simulate_and_check(params_file: Path, scenario: str) -> DriftResult:
    """`mlloop simulate` of the scenario into its own log, then `mlloop drift` of that log: the check's result."""
    params, log, report = str(params_file), log_of(params_file, scenario), params_file.parent / f"drift-{scenario}"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(params_file.parent)
        simulated = main(["--params", params, "simulate", "--scenario", scenario, "--out", str(log)])
        checked = main(["--params", params, "drift", "--current", str(log), "--out", str(report)])
    assert (simulated, checked) == (0, 0), scenario
    return read_result(report)
