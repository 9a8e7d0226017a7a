"""The model Pipeline: schema-driven preprocessing plus the estimator chosen in params."""

from typing import Any, get_args

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from mlloop.config import EstimatorName
from mlloop.core.model import build_pipeline, fit
from mlloop.core.schema import FeatureSchema, features_and_label
from mlloop.errors import ConfigError

ESTIMATORS: tuple[EstimatorName, ...] = get_args(EstimatorName)
SEED = 42


def _fitted(
    schema: FeatureSchema,
    table: pd.DataFrame,
    name: EstimatorName = "logistic_regression",
    hyperparameters: dict[str, Any] | None = None,
) -> Pipeline:
    features, label = features_and_label(table, schema)
    return fit(build_pipeline(schema, name, hyperparameters or {}, SEED), features, label)


def test_every_estimator_in_params_has_a_pipeline() -> None:
    assert set(ESTIMATORS) == {"logistic_regression", "hist_gradient_boosting", "random_forest"}


@pytest.mark.parametrize("name", ESTIMATORS)
def test_each_estimator_fits_and_predicts_probabilities(
    schema: FeatureSchema, valid_table: pd.DataFrame, name: EstimatorName
) -> None:
    # given: a table with one null total_charges
    features, _ = features_and_label(valid_table, schema)

    # when
    probability = _fitted(schema, valid_table, name).predict_proba(features)

    # then
    assert probability.shape == (len(valid_table), 2)
    assert np.all((probability >= 0) & (probability <= 1)), "probabilities must lie in [0, 1]"
    np.testing.assert_allclose(probability.sum(axis=1), 1.0)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_seed_is_passed_to_the_estimator_as_random_state(schema: FeatureSchema, name: EstimatorName) -> None:
    pipeline = build_pipeline(schema, name, {}, seed=1234)

    assert pipeline.named_steps["estimator"].random_state == 1234


def test_hyperparameters_reach_the_estimator(schema: FeatureSchema) -> None:
    pipeline = build_pipeline(schema, "random_forest", {"n_estimators": 7, "max_depth": 3}, seed=0)

    estimator = pipeline.named_steps["estimator"]
    assert (estimator.n_estimators, estimator.max_depth) == (7, 3)


def test_unknown_hyperparameter_is_a_config_error_naming_it_and_the_estimator(schema: FeatureSchema) -> None:
    with pytest.raises(ConfigError) as raised:
        build_pipeline(schema, "hist_gradient_boosting", {"learning_rat": 0.1}, seed=0)

    message = str(raised.value)
    assert "'learning_rat'" in message, message
    assert "hist_gradient_boosting" in message, message
    assert "learning_rate" in message, "the valid names should be listed, so the typo is easy to fix"


@pytest.mark.parametrize(
    ("name", "hyperparameters", "field"),
    [
        ("hist_gradient_boosting", {"learning_rate": -1}, "learning_rate"),
        ("random_forest", {"n_estimators": 0}, "n_estimators"),
        ("logistic_regression", {"C": -1.0}, "C"),
    ],
)
def test_out_of_range_hyperparameter_is_a_config_error_from_fit(
    schema: FeatureSchema,
    valid_table: pd.DataFrame,
    name: EstimatorName,
    hyperparameters: dict[str, Any],
    field: str,
) -> None:
    # given: the estimator accepts the value at construction; scikit-learn checks it in fit
    pipeline = build_pipeline(schema, name, hyperparameters, SEED)
    features, label = features_and_label(valid_table, schema)

    with pytest.raises(ConfigError) as raised:
        fit(pipeline, features, label)

    message = str(raised.value)
    assert "train.hyperparameters" in message, message
    assert f"'{field}'" in message, message


def test_one_hot_columns_come_from_the_schema_not_the_training_data(
    schema: FeatureSchema, valid_table: pd.DataFrame
) -> None:
    # given: training data in which only one contract type occurs
    table = valid_table.assign(contract="Month-to-month")

    # when
    pipeline = _fitted(schema, table)

    # then
    output_columns = set(pipeline.named_steps["preprocess"].get_feature_names_out())
    for name, feature in schema.categorical_features.items():
        for category in feature.categories:
            assert f"{name}_{category}" in output_columns, f"{name}={category!r} must have its own column"


def test_unseen_category_at_predict_time_gives_a_probability(schema: FeatureSchema, valid_table: pd.DataFrame) -> None:
    pipeline = _fitted(schema, valid_table)
    features, _ = features_and_label(valid_table.head(3), schema)
    features = features.assign(contract="Three year", payment_method="Bitcoin")

    probability = pipeline.predict_proba(features)[:, 1]

    assert np.all(np.isfinite(probability))
    assert np.all((probability >= 0) & (probability <= 1))


def test_null_total_charges_is_filled_with_the_schema_fill_value(
    schema: FeatureSchema, valid_table: pd.DataFrame
) -> None:
    # given: a fitted pipeline and the row whose total_charges is null
    pipeline = _fitted(schema, valid_table)
    preprocess = pipeline.named_steps["preprocess"]
    features, _ = features_and_label(valid_table, schema)
    null_row = features[features["total_charges"].isna()]
    assert len(null_row) == 1, "the fixture should hold exactly one null total_charges"
    fill_value = schema.numeric_features["total_charges"].fill_missing
    assert fill_value is not None
    filled_row = null_row.assign(total_charges=fill_value)

    # when
    from_null, from_fill = preprocess.transform(null_row), preprocess.transform(filled_row)

    # then: the model sees exactly what it would see for the declared fill value
    assert np.all(np.isfinite(from_null)), "no NaN may reach the estimator"
    np.testing.assert_array_equal(from_null, from_fill)
    np.testing.assert_array_equal(pipeline.predict_proba(null_row), pipeline.predict_proba(filled_row))


def test_columns_outside_the_schema_do_not_change_the_prediction(
    schema: FeatureSchema, valid_table: pd.DataFrame
) -> None:
    # given: a fitted pipeline, and the full table with its id and label columns
    pipeline = _fitted(schema, valid_table)
    features, _ = features_and_label(valid_table, schema)

    # when / then: the id and the label are dropped, never used as inputs
    np.testing.assert_array_equal(pipeline.predict_proba(valid_table), pipeline.predict_proba(features))
