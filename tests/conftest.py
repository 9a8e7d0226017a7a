"""Shared fixtures of the unit tier: the demo's schema and params, and a small table that passes the schema.

They are the project's schema.yaml and params.yaml while it reads the demo dataset; on a user's own data
they are the demo's, pinned in tests/demo/ (tests/demo_dataset.py), since the unit tier's expectations
name the demo's columns. tests/data and tests/model read the project's own.
"""

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

# Imported before the thread limit is applied: threadpoolctl only limits native libraries
# (scikit-learn's OpenMP, numpy's BLAS) that are already loaded.
import mlloop.core.model  # noqa: F401
from mlloop.config import Params, load_params
from mlloop.core.schema import FeatureSchema, load_schema
from tests.demo_dataset import demo_configuration

PROJECT_ROOT = Path(__file__).parents[1]
PARAMS_FILE = PROJECT_ROOT / "params.yaml"
"""The project's own params.yaml, for a setting of the code; the fixtures below are the demo's."""

TABLE_SEED = 20240601
MIN_TABLE_ROWS = 40
POSITIVE_SHARE = 0.3
"""Share of positive labels in valid_table: both classes well represented in a 20% split."""


@pytest.fixture(scope="session", autouse=True)
def single_threaded_native_code() -> Iterator[None]:
    """
    Run scikit-learn's OpenMP and numpy's BLAS on one thread for the whole session.

    On a busy 2-core machine OpenMP threads spin-wait for each other: one
    HistGradientBoosting fit on the real data took 30 s to 250 s instead of 0.7 s.
    The fitted models are the same either way; only the wall-clock time changes.
    """
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def demo_configuration_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory holding the params.yaml and schema.yaml of the demo: the project's root while it reads the demo."""
    return demo_configuration(PROJECT_ROOT, tmp_path_factory.mktemp("demo-configuration"))


@pytest.fixture(scope="session")
def schema_file(demo_configuration_root: Path) -> Path:
    """The demo's schema file: the one its params.yaml `data.schema_file` names (schema.yaml)."""
    return demo_configuration_root / load_params(demo_configuration_root / "params.yaml").data.schema_file


@pytest.fixture(scope="session")
def schema(schema_file: Path) -> FeatureSchema:
    """The demo's feature schema."""
    return load_schema(schema_file)


@pytest.fixture(scope="session")
def project_params() -> Params:
    """The project's own params.yaml, whatever table it reads: the data and model tiers test that table."""
    return load_params(PARAMS_FILE)


@pytest.fixture(scope="session")
def project_schema(project_params: Params) -> FeatureSchema:
    """The schema the project's params.yaml names: its own, not the demo's that the unit tier tests the code with."""
    return load_schema(PROJECT_ROOT / project_params.data.schema_file)


def _rows_for_one_null(schema: FeatureSchema) -> int:
    """Rows needed so that one null stays within every nullable feature's max_null_fraction."""
    limits = [feature.max_null_fraction for feature in schema.features.values() if feature.max_null_fraction]
    needed = max((math.ceil(1 / limit) for limit in limits), default=MIN_TABLE_ROWS)
    return max(MIN_TABLE_ROWS, needed)


@pytest.fixture
def valid_table(schema: FeatureSchema) -> pd.DataFrame:
    """
    A small, deterministic table that passes the schema, built from the schema itself.

    Every numeric value is inside its declared range, every category list is fully used,
    each nullable feature has exactly one null, ids are unique, and the label holds both
    classes (30% positive). With the current schema: 100 rows, because total_charges
    allows at most 1% nulls and the table must carry one.
    """
    rng = np.random.default_rng(TABLE_SEED)
    rows = _rows_for_one_null(schema)
    columns: dict[str, object] = {schema.id_column: np.arange(1, rows + 1)}
    for name, numeric in schema.numeric_features.items():
        low = numeric.min if numeric.min is not None else 0.0
        high = numeric.max if numeric.max is not None else low + 100.0
        if numeric.type == "integer":
            columns[name] = rng.integers(math.ceil(low), math.floor(high) + 1, size=rows)
        else:
            columns[name] = np.round(rng.uniform(low, high, size=rows), 2)
    for name, categorical in schema.categorical_features.items():
        columns[name] = rng.permutation(np.resize(np.array(categorical.categories), rows))
    positives = round(rows * POSITIVE_SHARE)
    labels = [schema.target.positive] * positives + [schema.target.negative] * (rows - positives)
    columns[schema.target.name] = rng.permutation(np.array(labels))
    table = pd.DataFrame(columns)[[schema.id_column, *schema.feature_names, schema.target.name]]
    for name, feature in schema.features.items():
        if feature.max_null_fraction > 0:
            table[name] = table[name].mask(table.index == int(rng.integers(rows)))
    return table


@pytest.fixture
def params(demo_configuration_root: Path, tmp_path: Path) -> Params:
    """The demo's params.yaml, with every output moved under tmp_path and the schema file absolute."""
    real = load_params(demo_configuration_root / "params.yaml")
    moved_paths = real.paths.model_copy(
        update={name: tmp_path / path for name, path in real.paths.model_dump().items()}
    )
    data = real.data.model_copy(
        update={
            "schema_file": demo_configuration_root / real.data.schema_file,
            "sources_dir": tmp_path / real.data.sources_dir,
        }
    )
    return real.model_copy(
        update={
            "paths": moved_paths,
            "data": data,
            "report": real.report.model_copy(update={"directory": tmp_path / real.report.directory}),
            "serve": real.serve.model_copy(update={"inference_log_dir": tmp_path / real.serve.inference_log_dir}),
            "drift": real.drift.model_copy(update={"directory": tmp_path / real.drift.directory}),
        }
    )
