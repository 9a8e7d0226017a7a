"""`make test` on a user's own data: the unit, data and model tiers run in a copy of the repository
whose params.yaml and schema.yaml describe another table, with no code change.

The data and model tests that read their expectations from the schema and params pass on it; those that
belong to the demo dataset skip, and each skip names the demo dataset. The unit tier tests the machinery
on the demo's configuration, pinned in tests/demo/, and passes whole: only its checks of that copy against
the project's skip, naming the demo dataset. None fails, and none passes silently.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.demo_dataset import DEMO_SOURCE
from tests.integration.own_table import TABLE_FILE, own_table_params, write_own_table
from tests.integration.repository import copy_repository

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own_data_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository, pointed at a CSV of loan accounts, its schema, and a gate set for that model."""
    root = tmp_path_factory.mktemp("own-data")
    copy_repository(root)
    (root / ".venv").symlink_to(Path(sys.executable).parents[1])
    write_own_table(root, "schema.yaml")
    params = own_table_params(yaml.safe_load((root / "params.yaml").read_text()), TABLE_FILE, "schema.yaml")
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


TIERS = ["tests/unit", "tests/data", "tests/model"]
"""The tiers `make test-fast` runs: those that need no server, and hold the tests of the data and model."""
GENERIC_TESTS = [
    "test_table_holds_exactly_the_id_the_features_and_the_label_of_the_schema",
    "test_table_passes_the_schema",
    "test_the_split_of_params_gives_every_pool_both_classes",
    "test_no_feature_row_of_the_evaluation_pool_is_in_another_pool",
    "test_every_scenario_params_declares_fits_the_schema_of_the_table",
    "test_test_split_metrics_meet_every_floor_of_the_gate",
]
"""The data and model tests that read their expectations from schema.yaml and params.yaml: they must run,
and pass. The unit tier must pass whole, on the demo's configuration."""


def test_the_unit_data_and_model_tiers_pass_on_a_users_own_table_and_name_the_demo_dataset_when_they_skip(
    own_data_repository: Path,
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *TIERS, "-p", "no:cacheprovider", "-v", "-rs"],
        cwd=own_data_repository,
        capture_output=True,
        text=True,
        timeout=900,
    )

    assert result.returncode == 0, result.stdout[-4000:]
    lines = result.stdout.splitlines()
    for name in GENERIC_TESTS:
        assert any(f"::{name} PASSED" in line for line in lines), f"{name} did not pass:\n{result.stdout[-4000:]}"
    skip_reasons = [line for line in lines if line.startswith("SKIPPED")]
    assert skip_reasons, "the demo dataset's tests were meant to skip on another table"
    assert all(DEMO_SOURCE in reason for reason in skip_reasons), skip_reasons
    unit_skips = [reason for reason in skip_reasons if " tests/unit/" in reason]
    assert all(" tests/unit/test_demo_configuration.py:" in reason for reason in unit_skips), unit_skips
    assert any(line.startswith("tests/unit/") and " PASSED" in line for line in lines), "the unit tier ran"
