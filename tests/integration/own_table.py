"""A user's own table, made up: loan accounts, shaped unlike the demo (other columns, types, id, target
and labels), with scenarios declared over its columns, for the tests that run the project on data it was
not written for."""

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

ROWS = 3000
SEED = 11
TABLE_FILE = "accounts.csv"
SCHEMA: dict[str, Any] = {
    "id_column": "account",
    "target": {"name": "defaulted", "positive": "yes", "negative": "no"},
    "features": {
        "age": {"type": "integer", "min": 18, "max": 100},
        "income": {"type": "number", "min": 0, "max": 1000000, "max_null_fraction": 0.05, "fill_missing": 0},
        "utilisation": {"type": "number", "min": 0, "max": 1},
        "region": {"type": "category", "categories": ["north", "south", "east", "west"]},
        "product": {"type": "category", "categories": ["card", "loan", "mortgage"]},
    },
}

SCENARIOS: dict[str, Any] = {
    "steady": {"expected": "no_drift", "shifts": []},
    "recession": {
        "expected": "drift",
        "shifts": [
            {"kind": "scale", "column": "income", "factor": 0.7, "ramp": False},
            {"kind": "move_labels", "column": "region", "from_labels": ["north"], "to_label": "south", "share": 0.5},
        ],
    },
    "new_product": {
        "expected": "contract_breach",
        "shifts": [{"kind": "unknown_label", "column": "product", "label": "lease", "share": 0.2}],
    },
    "missing_incomes": {"expected": "contract_breach", "shifts": [{"kind": "nulls", "column": "income", "share": 0.3}]},
    "shipper_stopped": {"expected": "stale", "shifts": [{"kind": "stop_logging", "after_day": 3}]},
    "defaults_turn": {"expected": "degraded", "shifts": [{"kind": "flip_outcomes", "share": 0.25}]},
}
"""One scenario or more of each status the drift check can alert on, over the table's own columns, as a user
declares them in params.yaml simulate.scenarios (in place of the demo's, which name the demo's columns)."""


def own_table() -> pd.DataFrame:
    """Loan accounts whose default depends on utilisation, age and product, a few incomes missing."""
    rng = np.random.default_rng(SEED)
    table = pd.DataFrame(
        {
            "account": [f"acc-{index:05d}" for index in range(ROWS)],
            "age": rng.integers(18, 90, ROWS),
            "income": np.round(rng.lognormal(10.5, 0.5, ROWS), 2),
            "utilisation": np.round(rng.uniform(0, 1, ROWS), 3),
            "region": rng.choice(SCHEMA["features"]["region"]["categories"], ROWS),
            "product": rng.choice(SCHEMA["features"]["product"]["categories"], ROWS),
        }
    )
    risk = 4 * table["utilisation"] - 0.03 * (table["age"] - 18) + (table["product"] == "card") - 1.5
    table[SCHEMA["target"]["name"]] = np.where(rng.uniform(0, 1, ROWS) < 1 / (1 + np.exp(-risk)), "yes", "no")
    table.loc[rng.choice(ROWS, ROWS // 100, replace=False), "income"] = np.nan
    return table


def write_own_table(directory: Path, schema_file: str) -> None:
    """The table as TABLE_FILE and its schema as `schema_file`, in `directory`."""
    own_table().to_csv(directory / TABLE_FILE, index=False)
    (directory / schema_file).write_text(yaml.safe_dump(SCHEMA, sort_keys=False))


def own_table_params(params: dict[str, Any], source: str, schema_file: str) -> dict[str, Any]:
    """params.yaml pointed at the table and its schema: no renames, its key features, a gate its model meets,
    and its own scenarios."""
    params["data"] |= {"source": source, "rename": {}, "schema_file": schema_file}
    params["drift"]["key_features"] = ["income", "utilisation"]
    params["gate"]["worst_acceptable"] = {"roc_auc": 0.75, "log_loss": 0.6}
    params["simulate"] |= {"scenario": "steady", "scenarios": SCENARIOS}
    return params
