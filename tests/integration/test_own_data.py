"""`make test` on a user's own data: the data and model tiers run in a copy of the repository whose
params.yaml and schema.yaml describe another table, with no code change.

The tests that read their expectations from the schema and params pass on it; those that belong to the
demo dataset skip, and each skip names the demo dataset. None fails, and none passes silently.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.demo_dataset import DEMO_SOURCE
from tests.integration.repository import copy_repository

pytestmark = pytest.mark.integration

ROWS = 3000
SEED = 11
OWN_SCHEMA = {
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


def _own_table() -> pd.DataFrame:
    """Loan accounts whose default depends on utilisation, age and product: another shape, another domain."""
    rng = np.random.default_rng(SEED)
    table = pd.DataFrame(
        {
            "account": [f"acc-{index:05d}" for index in range(ROWS)],
            "age": rng.integers(18, 90, ROWS),
            "income": np.round(rng.lognormal(10.5, 0.5, ROWS), 2),
            "utilisation": np.round(rng.uniform(0, 1, ROWS), 3),
            "region": rng.choice(["north", "south", "east", "west"], ROWS),
            "product": rng.choice(["card", "loan", "mortgage"], ROWS),
        }
    )
    risk = 4 * table["utilisation"] - 0.03 * (table["age"] - 18) + (table["product"] == "card") - 1.5
    table["defaulted"] = np.where(rng.uniform(0, 1, ROWS) < 1 / (1 + np.exp(-risk)), "yes", "no")
    table.loc[rng.choice(ROWS, ROWS // 100, replace=False), "income"] = np.nan
    return table


@pytest.fixture(scope="module")
def own_data_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository, pointed at a CSV of loan accounts, its schema, and a gate set for that model."""
    root = tmp_path_factory.mktemp("own-data")
    copy_repository(root)
    (root / ".venv").symlink_to(Path(sys.executable).parents[1])
    _own_table().to_csv(root / "accounts.csv", index=False)
    (root / "schema.yaml").write_text(yaml.safe_dump(OWN_SCHEMA))
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["data"] |= {"source": "accounts.csv", "rename": {}}
    params["drift"]["key_features"] = ["utilisation"]
    params["gate"]["worst_acceptable"] = {"roc_auc": 0.75, "log_loss": 0.6}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


GENERIC_TESTS = [
    "test_table_holds_exactly_the_id_the_features_and_the_label_of_the_schema",
    "test_table_passes_the_schema",
    "test_the_split_of_params_gives_train_and_test_both_classes",
    "test_test_split_metrics_meet_every_floor_of_the_gate",
]
"""The tests that read their expectations from schema.yaml and params.yaml: they must run, and pass."""


def test_the_data_and_model_tiers_pass_on_a_users_own_table_and_name_the_demo_dataset_when_they_skip(
    own_data_repository: Path,
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/data", "tests/model", "-p", "no:cacheprovider", "-v", "-rs"],
        cwd=own_data_repository,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert result.returncode == 0, result.stdout[-4000:]
    lines = result.stdout.splitlines()
    for name in GENERIC_TESTS:
        assert any(f"::{name} PASSED" in line for line in lines), f"{name} did not pass:\n{result.stdout[-4000:]}"
    skip_reasons = [line for line in lines if line.startswith("SKIPPED")]
    assert skip_reasons, "the demo dataset's tests were meant to skip on another table"
    assert all(DEMO_SOURCE in reason for reason in skip_reasons), skip_reasons
