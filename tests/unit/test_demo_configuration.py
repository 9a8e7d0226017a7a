"""The unit tier tests the machinery on the demo's configuration: the project's own while it reads the demo
dataset, the copy pinned in tests/demo/ on a user's own data. The copy must stay the demo's: while the
project reads the demo it must equal schema.yaml and params.yaml, and a param it pins that params.yaml
no longer has fails loudly rather than testing something else."""

import shutil
from pathlib import Path

import pytest
import yaml
from tests import demo_dataset
from tests.demo_dataset import (
    DEMO_NAME,
    DEMO_SCHEMA_FILE,
    DEMO_SOURCE,
    demo_configuration,
    pinned_demo_params,
    reads_the_demo,
)

from mlloop.config import load_params, read_yaml_mapping
from mlloop.core.schema import load_schema
from mlloop.errors import ConfigError

PROJECT_ROOT = Path(__file__).parents[2]
OWN_SCHEMA = {
    "id_column": "account",
    "target": {"name": "defaulted", "positive": "yes", "negative": "no"},
    "features": {"utilisation": {"type": "number", "min": 0, "max": 1}},
}


def _value_at(document: dict[str, object], dotted_path: str) -> object:
    value: object = document
    for name in dotted_path.split("."):
        assert isinstance(value, dict), f"params.yaml {dotted_path}: {name} is not a section"
        assert name in value, f"params.yaml has no {dotted_path}"
        value = value[name]
    return value


@pytest.fixture
def project_on_the_demo() -> Path:
    """The project's root, for a check that holds while it reads the demo; skipped, naming it, otherwise."""
    params = load_params(PROJECT_ROOT / "params.yaml")
    if not reads_the_demo(params, load_schema(PROJECT_ROOT / params.data.schema_file)):
        pytest.skip(f"the pinned configuration of {DEMO_NAME} is checked against the project's while it reads it")
    return PROJECT_ROOT


@pytest.fixture
def own_project(tmp_path: Path) -> Path:
    """A project whose params.yaml and schema.yaml describe loan accounts, with a hyperparameter of its own."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "schema.yaml").write_text(yaml.safe_dump(OWN_SCHEMA))
    params = read_yaml_mapping(PROJECT_ROOT / "params.yaml")
    params["data"] |= {"source": "accounts.csv", "rename": {}, "schema_file": "schema.yaml"}
    params["drift"]["key_features"] = ["utilisation"]
    params["train"]["seed"] = 1234
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root


def test_the_pinned_demo_schema_is_schema_yaml_while_the_project_reads_the_demo(project_on_the_demo: Path) -> None:
    schema_file = project_on_the_demo / load_params(project_on_the_demo / "params.yaml").data.schema_file

    assert load_schema(DEMO_SCHEMA_FILE) == load_schema(schema_file), (
        f"{DEMO_SCHEMA_FILE} is stale: copy the change of {schema_file.name} into it"
    )


@pytest.mark.parametrize("dotted_path", list(pinned_demo_params()))
def test_each_pinned_demo_param_is_params_yamls_while_the_project_reads_the_demo(
    project_on_the_demo: Path, dotted_path: str
) -> None:
    project = _value_at(read_yaml_mapping(project_on_the_demo / "params.yaml"), dotted_path)

    assert pinned_demo_params()[dotted_path] == project, (
        f"{demo_dataset.DEMO_PARAMS_FILE} is stale: params.yaml {dotted_path} is now {project!r}"
    )


def test_on_the_demo_or_a_version_of_it_folded_in_the_unit_tier_reads_the_projects_own_files(tmp_path: Path) -> None:
    folded_in = tmp_path / "project"
    folded_in.mkdir()
    shutil.copy(DEMO_SCHEMA_FILE, folded_in / "schema.yaml")
    params = read_yaml_mapping(PROJECT_ROOT / "params.yaml")
    params["data"] |= {"source": "data/sources/training-2026-11-24.parquet", "schema_file": "schema.yaml"}
    (folded_in / "params.yaml").write_text(yaml.safe_dump(params))

    assert demo_configuration(folded_in, tmp_path / "scratch") == folded_in


def test_on_another_table_the_unit_tier_reads_the_pinned_demo_schema_and_params_over_the_projects(
    own_project: Path, tmp_path: Path
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    root = demo_configuration(own_project, scratch)

    params = load_params(root / "params.yaml")
    assert root == scratch
    assert load_schema(root / params.data.schema_file) == load_schema(DEMO_SCHEMA_FILE)
    assert params.data.source == DEMO_SOURCE
    assert params.data.rename == pinned_demo_params()["data.rename"]
    assert params.drift.key_features == pinned_demo_params()["drift.key_features"]
    assert params.train.seed == 1234, "every param the copy does not pin is the project's"


def test_a_pinned_param_params_yaml_no_longer_has_fails_naming_it(
    own_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = tmp_path / "pinned.yaml"
    stale.write_text("drift.key_columns: [monthly_charges]\n")
    monkeypatch.setattr(demo_dataset, "DEMO_PARAMS_FILE", stale)

    with pytest.raises(ConfigError, match=r"pinned\.yaml: drift\.key_columns: .*params\.yaml has no such param"):
        demo_configuration(own_project, tmp_path)
