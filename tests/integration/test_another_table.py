"""A user's own table: params.yaml and a schema pointed at a differently shaped table (other columns,
types, id, target and labels), and scenarios declared for it in params, run through the pipeline,
`mlloop simulate` and `mlloop drift` with no change to the code."""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlloop.cli import main
from tests.integration.own_table import SCHEMA, TABLE_FILE, own_table_params, write_own_table
from tests.integration.repository import PROJECT

pytestmark = pytest.mark.integration

SCHEMA_FILE = "accounts-schema.yaml"
ROWS_PER_DAY = 300
SCENARIOS: dict[str, Any] = {
    "steady": {"expected": "no_drift", "shifts": []},
    "recession": {
        "expected": "drift",
        "shifts": [
            {"kind": "scale", "column": "income", "factor": 0.7, "ramp": False},
            {"kind": "move_labels", "column": "region", "from_labels": ["north"], "to_label": "south", "share": 0.5},
        ],
    },
}


def _own_params(directory: Path) -> Path:
    """The project's params.yaml, pointed at the accounts table and its schema, its scenarios declared, lighter
    to train and evaluate."""
    params = own_table_params(
        yaml.safe_load((PROJECT / "params.yaml").read_text()), str(directory / TABLE_FILE), SCHEMA_FILE
    )
    params["train"] |= {"estimator": "logistic_regression", "hyperparameters": {}}
    params["evaluate"]["importance"] |= {"repeats": 1, "max_rows": 200}
    params["evaluate"]["latency"] = {"single_row_calls": 2, "batch_rows": 10, "batch_calls": 1}
    params["simulate"] |= {"scenario": "steady", "scenarios": SCENARIOS, "rows_per_day": ROWS_PER_DAY}
    path = directory / "accounts-params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def own_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the accounts table, its schema, its params and the pipeline's outputs."""
    directory = tmp_path_factory.mktemp("accounts")
    write_own_table(directory, SCHEMA_FILE)
    params = _own_params(directory)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(directory)
        for stage in ("ingest", "validate", "split", "train", "evaluate"):
            assert main(["--params", str(params), stage]) == 0, stage
    return directory


@pytest.mark.parametrize(("scenario", "status"), [("steady", "no_drift"), ("recession", "drift")])
def test_a_scenario_declared_in_params_runs_on_another_table_through_simulate_and_drift(
    own_project: Path, scenario: str, status: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the accounts project, its pipeline reproduced
    monkeypatch.chdir(own_project)
    params = str(own_project / "accounts-params.yaml")

    # when
    simulated = main(["--params", params, "simulate", "--scenario", scenario, "--out", f"log-{scenario}"])
    checked = main(["--params", params, "drift", "--current", f"log-{scenario}", "--out", f"drift-{scenario}"])

    # then
    assert (simulated, checked) == (0, 0)
    line = json.loads(next((own_project / f"log-{scenario}").glob("predictions-*.jsonl")).read_text().splitlines()[0])
    assert list(line["features"]) == list(SCHEMA["features"]), "the log holds the accounts table's features"
    result = json.loads((own_project / f"drift-{scenario}" / "drift.json").read_text())
    assert result["status"] == status == SCENARIOS[scenario]["expected"], result["reasons"]
    assert result["rows"]["current"] == 7 * ROWS_PER_DAY
    assert result["realised"]["rows"] == 7 * ROWS_PER_DAY, "every row joined to its delayed label"
    if status == "drift":
        assert "income" in result["reasons"][0], "the scaled key feature is named"
