"""Build and fit the scikit-learn Pipeline that turns schema columns into a churn probability.

Preprocessing lives inside the Pipeline, so the saved model applies the same null rule,
scaling and encoding at serving time as it did in training.
"""

from collections import defaultdict
from typing import Any

import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from mlloop.config import EstimatorName
from mlloop.core.schema import FeatureSchema
from mlloop.errors import ConfigError

ESTIMATORS: dict[EstimatorName, type[ClassifierMixin]] = {
    "logistic_regression": LogisticRegression,
    "hist_gradient_boosting": HistGradientBoostingClassifier,
    "random_forest": RandomForestClassifier,
}


def build_preprocessor(schema: FeatureSchema) -> ColumnTransformer:
    """Numeric columns: the schema's fill rule for nulls, then scaling; categories: one-hot.

    One-hot columns come from the schema's category lists, not from the data, so the
    model's inputs do not depend on which categories the training sample happened to hold.
    """
    columns_by_fill: dict[float | None, list[str]] = defaultdict(list)
    for name, feature in schema.numeric_features.items():
        columns_by_fill[feature.fill_missing].append(name)
    transformers: list[tuple[str, Any, list[str]]] = []
    for fill_value, columns in columns_by_fill.items():
        if fill_value is None:
            transformers.append(("numeric", StandardScaler(), columns))
        else:
            imputer = SimpleImputer(strategy="constant", fill_value=fill_value)
            transformers.append((f"numeric_fill_{fill_value:g}", make_pipeline(imputer, StandardScaler()), columns))
    categorical = schema.categorical_features
    if categorical:
        encoder = OneHotEncoder(
            categories=[feature.categories for feature in categorical.values()],
            handle_unknown="ignore",
            sparse_output=False,
        )
        transformers.append(("categorical", encoder, list(categorical)))
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)


def build_estimator(name: EstimatorName, hyperparameters: dict[str, Any], seed: int) -> ClassifierMixin:
    """Instantiate the estimator named in params, seeded, rejecting unknown hyperparameters by name."""
    estimator_class = ESTIMATORS[name]
    estimator = estimator_class()
    known = estimator.get_params()
    unknown = sorted(set(hyperparameters) - set(known))
    if unknown:
        raise ConfigError(
            f"train.hyperparameters: {unknown} are not hyperparameters of {name} "
            f"({estimator_class.__name__}); valid ones are {sorted(known)}"
        )
    seeded = {"random_state": seed} if "random_state" in known else {}
    return estimator_class(**(seeded | hyperparameters))


def build_pipeline(schema: FeatureSchema, name: EstimatorName, hyperparameters: dict[str, Any], seed: int) -> Pipeline:
    """The full, unfitted model: preprocessing plus estimator."""
    return Pipeline(
        [
            ("preprocess", build_preprocessor(schema)),
            ("estimator", build_estimator(name, hyperparameters, seed)),
        ]
    )


def fit(pipeline: Pipeline, features: pd.DataFrame, label: pd.Series) -> Pipeline:
    """Fit the pipeline; an out-of-range hyperparameter becomes a ConfigError naming it."""
    try:
        return pipeline.fit(features, label)
    except InvalidParameterError as error:
        raise ConfigError(f"train.hyperparameters: {error}") from error
