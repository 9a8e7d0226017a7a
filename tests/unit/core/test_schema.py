"""The feature schema: one declaration, checked at load time, from which every stage derives its columns."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from mlloop.core.schema import CategoricalFeature, FeatureSchema, NumericFeature, features_and_label, load_schema
from mlloop.errors import ConfigError

Mapping = dict[str, Any]


def _real_schema_mapping(schema_file: Path) -> Mapping:
    loaded = yaml.safe_load(schema_file.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _write_schema(schema_file: Path, directory: Path, change: Callable[[Mapping], None]) -> Path:
    """Write the real schema.yaml, changed in place by `change`, into `directory`."""
    document = _real_schema_mapping(schema_file)
    change(document)
    path = directory / "schema.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_real_schema_loads_with_id_target_and_features(schema: FeatureSchema, schema_file: Path) -> None:
    document = _real_schema_mapping(schema_file)

    assert schema.id_column == document["id_column"]
    assert schema.target.name == document["target"]["name"]
    assert schema.target.positive == document["target"]["positive"]
    assert schema.target.negative == document["target"]["negative"]
    assert set(schema.features) == set(document["features"])


def test_feature_names_keep_the_declaration_order_of_the_file(schema: FeatureSchema, schema_file: Path) -> None:
    # The declaration order is the model's input order, so it must not be re-sorted.
    assert schema.feature_names == list(_real_schema_mapping(schema_file)["features"])


def test_numeric_and_categorical_features_partition_the_features(schema: FeatureSchema, schema_file: Path) -> None:
    numeric, categorical = set(schema.numeric_features), set(schema.categorical_features)
    declared_categorical = {
        name for name, spec in _real_schema_mapping(schema_file)["features"].items() if spec["type"] == "category"
    }

    assert numeric.isdisjoint(categorical), "a feature cannot be both numeric and categorical"
    assert numeric | categorical == set(schema.feature_names), "every feature must be one or the other"
    assert categorical == declared_categorical
    assert all(isinstance(feature, NumericFeature) for feature in schema.numeric_features.values())
    assert all(isinstance(feature, CategoricalFeature) for feature in schema.categorical_features.values())


def test_nullable_number_without_fill_rule_is_rejected_naming_the_feature(schema_file: Path, tmp_path: Path) -> None:
    # given: total_charges may be null but says nothing about what the model should use instead
    path = _write_schema(
        schema_file, tmp_path, lambda document: document["features"]["total_charges"].pop("fill_missing")
    )

    # when / then
    with pytest.raises(ConfigError) as raised:
        load_schema(path)
    message = str(raised.value)
    assert "features.total_charges" in message, message
    assert "fill_missing" in message, message
    assert str(path) in message, "the message must name the schema file"


def test_min_greater_than_max_is_rejected_naming_the_feature_and_bounds(schema_file: Path, tmp_path: Path) -> None:
    path = _write_schema(
        schema_file, tmp_path, lambda document: document["features"]["tenure"].update(min=200, max=120)
    )

    with pytest.raises(ConfigError) as raised:
        load_schema(path)
    message = str(raised.value)
    assert "features.tenure" in message, message
    assert "min (200.0) is greater than max (120.0)" in message, message


def test_unknown_feature_type_is_rejected_naming_the_feature_and_type(schema_file: Path, tmp_path: Path) -> None:
    path = _write_schema(schema_file, tmp_path, lambda document: document["features"]["contract"].update(type="text"))

    with pytest.raises(ConfigError) as raised:
        load_schema(path)
    message = str(raised.value)
    assert "features.contract" in message, message
    assert "'text'" in message, message


def test_unknown_key_in_a_feature_is_rejected(schema_file: Path, tmp_path: Path) -> None:
    path = _write_schema(schema_file, tmp_path, lambda document: document["features"]["tenure"].update(maximum=120))

    with pytest.raises(ConfigError, match=r"features\.tenure\..*maximum"):
        load_schema(path)


def test_missing_schema_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"

    with pytest.raises(ConfigError, match=r"absent\.yaml: file not found"):
        load_schema(path)


def test_features_and_label_gives_model_columns_and_a_0_1_label(
    schema: FeatureSchema, valid_table: pd.DataFrame
) -> None:
    # when
    features, label = features_and_label(valid_table, schema)

    # then
    assert list(features.columns) == schema.feature_names, "id and label must not reach the model"
    assert set(label.unique()) == {0, 1}
    expected = [1 if value == schema.target.positive else 0 for value in valid_table[schema.target.name]]
    assert label.tolist() == expected, "1 must mean the positive class"
    assert label.index.equals(features.index), "features and label must stay aligned"
