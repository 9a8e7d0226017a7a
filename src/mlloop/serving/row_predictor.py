"""Churn probabilities for rows that already passed the request contract, without a DataFrame.

For one row, the fitted ColumnTransformer spends about 6 ms selecting and re-validating pandas
columns: several times the cost of the model itself, and the whole cost of a small batch. Its
fitted sub-transformers accept plain arrays, so this feeds each one the columns it was fitted
on, in the same order, and hands the stacked matrix to the fitted estimator. The fitted objects
and their arithmetic are the pipeline's own, so the probabilities are Pipeline.predict_proba's
to the last bit (tests hold them to it).
"""

import warnings
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from mlloop.core.schema import FeatureSchema

FEATURE_NAMES_WARNING = "X does not have valid feature names"
"""Sub-transformers fitted on named columns warn on arrays; the columns here are those names, in order."""


class RowPredictor:
    """predict_proba for a fitted preprocess-then-estimator Pipeline, fed rows of feature values
    in the schema's order: tuples cross to the model's process at a fraction of dicts' cost.
    """

    def __init__(self, pipeline: Pipeline, schema: FeatureSchema) -> None:
        preprocess, estimator = pipeline.named_steps["preprocess"], pipeline.named_steps["estimator"]
        if not isinstance(preprocess, ColumnTransformer) or preprocess.remainder != "drop":
            raise TypeError(f"expected a ColumnTransformer that drops the remainder, got {preprocess!r}")
        categorical = set(schema.categorical_features)
        position = {name: index for index, name in enumerate(schema.feature_names)}
        self._blocks: list[tuple[Any, Callable[[Sequence[Any]], Any], int, type]] = [
            (
                transformer,
                itemgetter(*(position[column] for column in columns)),
                len(columns),
                object if categorical & set(columns) else float,
            )
            for name, transformer, columns in preprocess.transformers_
            if name != "remainder"
        ]
        self._estimator = estimator

    def probabilities(self, rows: Sequence[Sequence[Any]]) -> np.ndarray:
        """The positive class's probability for each row, in order (None in a numeric column is a null)."""
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=FEATURE_NAMES_WARNING, category=UserWarning)
            encoded = [
                transformer.transform(np.array(list(map(values, rows)), dtype=dtype).reshape(len(rows), width))
                for transformer, values, width, dtype in self._blocks
            ]
        probabilities: np.ndarray = self._estimator.predict_proba(np.hstack(encoded))[:, 1]
        return probabilities
