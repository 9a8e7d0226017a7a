"""A user's own table: params.yaml and a schema pointed at a differently shaped table (other columns,
types, id, target and labels), and scenarios declared for it in params, run through the pipeline,
`mlloop simulate` and `mlloop drift` with no change to the code."""

import json
from pathlib import Path

import pytest
import yaml

from tests.integration.own_table import SCENARIOS, SCHEMA, TABLE_FILE, own_table_params, write_own_table
from tests.integration.repository import PROJECT
from tests.integration.simulated_check import log_of, reproduce, simulate_and_check, write_params

pytestmark = pytest.mark.integration

SCHEMA_FILE = "accounts-schema.yaml"
ROWS_PER_DAY = 300


@pytest.fixture(scope="module")
def own_params(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's params.yaml pointed at the accounts table and its schema, its scenarios declared, a model
    quicker to train; beside it the table, the schema and the pipeline's outputs."""
    directory = tmp_path_factory.mktemp("accounts")
    write_own_table(directory, SCHEMA_FILE)
    params = own_table_params(
        yaml.safe_load((PROJECT / "params.yaml").read_text()), str(directory / TABLE_FILE), SCHEMA_FILE
    )
    params["train"] |= {"estimator": "logistic_regression", "hyperparameters": {}}
    params["simulate"]["rows_per_day"] = ROWS_PER_DAY
    path = write_params(params, directory / "accounts-params.yaml")
    reproduce(path)
    return path


@pytest.mark.parametrize(("scenario", "status"), [("steady", "no_drift"), ("recession", "drift")])
def test_a_scenario_declared_in_params_runs_on_another_table_through_simulate_and_drift(
    own_params: Path, scenario: str, status: str
) -> None:
    # given: the accounts project, its pipeline reproduced

    # when
    result = simulate_and_check(own_params, scenario)

    # then
    line = json.loads(next(log_of(own_params, scenario).glob("predictions-*.jsonl")).read_text().splitlines()[0])
    assert list(line["features"]) == list(SCHEMA["features"]), "the log holds the accounts table's features"
    assert result.status == status == SCENARIOS[scenario]["expected"], result.reasons
    assert result.rows.current == 7 * ROWS_PER_DAY
    assert result.realised is not None, "the delayed labels were read"
    assert result.realised.rows == 7 * ROWS_PER_DAY, "every row joined to its delayed label"
    if status == "drift":
        assert "income" in result.reasons[0], "the scaled key feature is named"


ALERTS = [name for name, scenario in SCENARIOS.items() if scenario["expected"] not in ("no_drift", "drift")]
"""The scenarios declared for the table whose status opens an issue of its own: a breach, a silent log, decay."""


@pytest.mark.parametrize("scenario", ALERTS)
def test_each_alert_declared_for_another_table_reaches_its_status_through_simulate_and_drift(
    own_params: Path, scenario: str
) -> None:
    result = simulate_and_check(own_params, scenario)

    assert result.status == SCENARIOS[scenario]["expected"], f"{scenario}: {result.status} ({result.reasons})"
