"""The row predictor gives, for rows that passed the request contract (tuples of feature values in
the schema's order, None for a null), exactly the fitted Pipeline's predict_proba on the same rows as a DataFrame:
bit for bit, for every estimator, without a warning, and it refuses a Pipeline it cannot mirror."""

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from mlloop.config import EstimatorName
from mlloop.core.model import ESTIMATORS, build_pipeline, build_preprocessor, fit
from mlloop.core.schema import FeatureSchema, features_and_label
from mlloop.serving.row_predictor import RowPredictor

SEED = 7
SMALL_HYPERPARAMETERS: dict[EstimatorName, dict[str, Any]] = {
    "hist_gradient_boosting": {"max_iter": 10},
    "random_forest": {"n_estimators": 10},
}
"""Enough to fit a real model on the 100-row table, quickly; estimators not named here use their defaults."""

NULLABLE_NUMERIC = "total_charges"


def _rows(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """The rows as the model's process receives them: plain values in column order, None for a null."""
    plain = frame.astype(object).where(frame.notna(), None)
    return list(plain.itertuples(index=False, name=None))


def _all_rows(features: pd.DataFrame) -> pd.DataFrame:
    return features


def _one_complete_row(features: pd.DataFrame) -> pd.DataFrame:
    return features[features.notna().all(axis=1)].iloc[[0]]


def _one_row_with_a_null(features: pd.DataFrame) -> pd.DataFrame:
    return features[features[NULLABLE_NUMERIC].isna()].iloc[[0]]


ROW_SELECTIONS = [
    pytest.param(_all_rows, id="many rows"),
    pytest.param(_one_complete_row, id="one row"),
    pytest.param(_one_row_with_a_null, id="one row with a null total_charges"),
]


@pytest.fixture(params=list(ESTIMATORS))
def fitted(request: pytest.FixtureRequest, schema: FeatureSchema, valid_table: pd.DataFrame) -> Pipeline:
    """A pipeline of each estimator, fitted on the valid table (which holds one null total_charges)."""
    name: EstimatorName = request.param
    features, label = features_and_label(valid_table, schema)
    return fit(build_pipeline(schema, name, SMALL_HYPERPARAMETERS.get(name, {}), SEED), features, label)


@pytest.fixture
def features(schema: FeatureSchema, valid_table: pd.DataFrame) -> pd.DataFrame:
    table_features, _ = features_and_label(valid_table, schema)
    return table_features


def test_the_table_holds_a_null_in_the_nullable_numeric_feature(schema: FeatureSchema, features: pd.DataFrame) -> None:
    # the null-row cases below rely on it
    assert schema.features[NULLABLE_NUMERIC].max_null_fraction > 0
    assert features[NULLABLE_NUMERIC].isna().sum() == 1


@pytest.mark.parametrize("select", ROW_SELECTIONS)
def test_probabilities_are_the_pipelines_predict_proba_bit_for_bit(
    fitted: Pipeline,
    schema: FeatureSchema,
    features: pd.DataFrame,
    select: Callable[[pd.DataFrame], pd.DataFrame],
) -> None:
    # given
    frame = select(features)
    expected = fitted.predict_proba(frame)[:, 1]

    # when
    probabilities = RowPredictor(fitted, schema).probabilities(_rows(frame))

    # then
    assert probabilities.shape == (len(frame),)
    assert np.array_equal(probabilities, expected), np.abs(probabilities - expected).max()


def test_the_features_frame_is_in_schema_order(schema: FeatureSchema, features: pd.DataFrame) -> None:
    # _rows relies on it: a row's values are read by their position in the schema
    assert list(features.columns) == schema.feature_names


@pytest.mark.parametrize("select", ROW_SELECTIONS)
def test_no_warning_escapes_not_even_x_does_not_have_valid_feature_names(
    fitted: Pipeline,
    schema: FeatureSchema,
    features: pd.DataFrame,
    select: Callable[[pd.DataFrame], pd.DataFrame],
) -> None:
    rows = _rows(select(features))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        probabilities = RowPredictor(fitted, schema).probabilities(rows)

    assert [str(warning.message) for warning in caught] == []
    assert len(probabilities) == len(rows)


def test_the_sub_transformers_do_warn_on_plain_arrays_so_the_guard_is_needed(
    fitted: Pipeline, features: pd.DataFrame
) -> None:
    # given: the fitted numeric scaler, fed a plain array of the columns it was fitted on
    _, transformer, columns = fitted.named_steps["preprocess"].transformers_[0]
    array = features[columns].to_numpy(dtype=float)

    # then: without RowPredictor's filter, scikit-learn warns
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        transformer.transform(array)


@pytest.mark.parametrize(
    "preprocess",
    [
        pytest.param(lambda _schema: StandardScaler(), id="not a ColumnTransformer"),
        pytest.param(
            lambda schema: build_preprocessor(schema).set_params(remainder="passthrough"),
            id="a ColumnTransformer that keeps the remainder",
        ),
    ],
)
def test_a_pipeline_it_cannot_mirror_is_refused_with_type_error(
    schema: FeatureSchema, preprocess: Callable[[FeatureSchema], Any]
) -> None:
    pipeline = Pipeline([("preprocess", preprocess(schema)), ("estimator", LogisticRegression())])

    with pytest.raises(TypeError, match="ColumnTransformer"):
        RowPredictor(pipeline, schema)
