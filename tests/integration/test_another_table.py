"""A user's own table: params.yaml and a schema pointed at a differently shaped table (other columns,
types, id, target and labels), and scenarios declared for it in params, run through the pipeline,
`mlloop simulate` and `mlloop drift` with no change to the code."""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from mlloop.cli import main
from tests.integration.repository import PROJECT

pytestmark = pytest.mark.integration

ROWS = 2000
SEED = 5

LOANS_SCHEMA: dict[str, Any] = {
    "id_column": "loan_id",
    "target": {"name": "defaulted", "positive": "yes", "negative": "no"},
    "features": {
        "income": {"type": "number", "min": 0, "max": 1_000_000},
        "age": {"type": "integer", "min": 18, "max": 100},
        "region": {"type": "category", "categories": ["north", "south", "east", "west"]},
        "product": {"type": "category", "categories": ["card", "mortgage", "personal"]},
        "debt_ratio": {"type": "number", "min": 0, "max": 10, "max_null_fraction": 0.05, "fill_missing": 0},
    },
}

LOANS_SCENARIOS: dict[str, Any] = {
    "steady": {"expected": "no_drift", "shifts": []},
    "recession": {
        "expected": "drift",
        "shifts": [
            {"kind": "scale", "column": "income", "factor": 0.7, "ramp": False},
            {"kind": "move_labels", "column": "region", "from_labels": ["north"], "to_label": "south", "share": 0.5},
        ],
    },
}


def _loans_table() -> pd.DataFrame:
    """Loans whose default depends on debt and income, a few debt ratios missing."""
    rng = np.random.default_rng(SEED)
    income = rng.lognormal(10.5, 0.5, ROWS).round(2)
    debt_ratio = rng.gamma(2.0, 0.5, ROWS).clip(0, 10).round(3)
    risk = 1.5 * debt_ratio - income / 40_000 + rng.normal(0, 1, ROWS)
    table = pd.DataFrame(
        {
            "loan_id": [f"L{number:05d}" for number in range(ROWS)],
            "income": income,
            "age": rng.integers(18, 80, ROWS),
            "region": rng.choice(LOANS_SCHEMA["features"]["region"]["categories"], ROWS),
            "product": rng.choice(LOANS_SCHEMA["features"]["product"]["categories"], ROWS),
            "debt_ratio": debt_ratio,
            "defaulted": np.where(risk > np.quantile(risk, 0.75), "yes", "no"),
        }
    )
    table.loc[rng.choice(ROWS, 20, replace=False), "debt_ratio"] = np.nan
    return table


def _loans_params(directory: Path) -> Path:
    """The project's params.yaml, pointed at the loans table and its schema, lighter to evaluate."""
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    params["data"] |= {"source": str(directory / "loans.csv"), "rename": {}, "schema_file": "loans-schema.yaml"}
    params["train"] |= {"estimator": "logistic_regression", "hyperparameters": {}}
    params["evaluate"]["importance"] |= {"repeats": 1, "max_rows": 200}
    params["evaluate"]["latency"] = {"single_row_calls": 2, "batch_rows": 10, "batch_calls": 1}
    params["drift"]["key_features"] = ["income", "region"]
    params["simulate"] |= {"scenario": "steady", "scenarios": LOANS_SCENARIOS, "rows_per_day": 300}
    path = directory / "loans-params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def loans_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the loans table, its schema, its params and the pipeline's outputs."""
    directory = tmp_path_factory.mktemp("loans")
    _loans_table().to_csv(directory / "loans.csv", index=False)
    (directory / "loans-schema.yaml").write_text(yaml.safe_dump(LOANS_SCHEMA, sort_keys=False))
    params = _loans_params(directory)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(directory)
        for stage in ("ingest", "validate", "split", "train", "evaluate"):
            assert main(["--params", str(params), stage]) == 0, stage
    return directory


@pytest.mark.parametrize(("scenario", "status"), [("steady", "no_drift"), ("recession", "drift")])
def test_a_scenario_declared_in_params_runs_on_another_table_through_simulate_and_drift(
    loans_project: Path, scenario: str, status: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the loans project, its pipeline reproduced
    monkeypatch.chdir(loans_project)
    params = str(loans_project / "loans-params.yaml")

    # when
    simulated = main(["--params", params, "simulate", "--scenario", scenario, "--out", f"log-{scenario}"])
    checked = main(["--params", params, "drift", "--current", f"log-{scenario}", "--out", f"drift-{scenario}"])

    # then
    assert (simulated, checked) == (0, 0)
    line = json.loads(next((loans_project / f"log-{scenario}").glob("predictions-*.jsonl")).read_text().splitlines()[0])
    assert list(line["features"]) == list(LOANS_SCHEMA["features"]), "the log holds the loans table's features"
    result = json.loads((loans_project / f"drift-{scenario}" / "drift.json").read_text())
    assert result["status"] == status == LOANS_SCENARIOS[scenario]["expected"], result["reasons"]
    assert result["rows"]["current"] == 7 * 300
    if status == "drift":
        assert "income" in result["reasons"][0], "the scaled key feature is named"
