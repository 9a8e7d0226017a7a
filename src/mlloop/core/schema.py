"""The feature schema: one declaration, read from the schema file named in params.yaml.

Validation, training, the service's request model and the drift check all derive
what they need from a FeatureSchema, so they cannot disagree on a column.
"""

from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
import pandera.pandas as pa
from pydantic import Field, ValidationError, model_validator

from mlloop.config import Frozen, describe_validation_error, read_yaml_mapping
from mlloop.errors import ConfigError

NULL_FRACTION_RULE = "max_null_fraction"
WHOLE_NUMBER_RULE = "whole_number"
BOTH_CLASSES_RULE = "both_classes_present"


class NumericFeature(Frozen):
    """A number with an allowed range; `fill_missing` is the model's rule for nulls."""

    type: Literal["integer", "number"]
    min: float | None = None
    max: float | None = None
    max_null_fraction: float = Field(default=0.0, ge=0, le=1)
    fill_missing: float | None = None
    description: str = ""

    @model_validator(mode="after")
    def nullable_needs_a_fill_rule(self) -> "NumericFeature":
        """A column that may be null needs a declared rule, or the estimator sees NaN."""
        if self.max_null_fraction > 0 and self.fill_missing is None:
            raise ValueError("max_null_fraction > 0 needs fill_missing: the value the model uses for nulls")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class CategoricalFeature(Frozen):
    """A label from a closed set; anything else is rejected, never silently encoded."""

    type: Literal["category"]
    categories: list[str] = Field(min_length=1)
    max_null_fraction: float = Field(default=0.0, ge=0, le=1)
    description: str = ""


Feature = Annotated[NumericFeature | CategoricalFeature, Field(discriminator="type")]


class Target(Frozen):
    """The label column and which of its two values is the positive class."""

    name: str
    positive: str
    negative: str


class FeatureSchema(Frozen):
    """Columns of the table: an id, the features in model order, and the target."""

    id_column: str
    target: Target
    features: dict[str, Feature] = Field(min_length=1)

    @property
    def feature_names(self) -> list[str]:
        """Feature columns in declaration order, which is the model's input order."""
        return list(self.features)

    @property
    def numeric_features(self) -> dict[str, NumericFeature]:
        """The numeric features, by name."""
        return {name: f for name, f in self.features.items() if isinstance(f, NumericFeature)}

    @property
    def categorical_features(self) -> dict[str, CategoricalFeature]:
        """The categorical features, by name."""
        return {name: f for name, f in self.features.items() if isinstance(f, CategoricalFeature)}


def load_schema(path: Path) -> FeatureSchema:
    """Load and check the schema file."""
    try:
        return FeatureSchema.model_validate(read_yaml_mapping(path))
    except ValidationError as error:
        raise ConfigError(describe_validation_error(path, error)) from error


def _null_fraction_check(limit: float) -> pa.Check:
    return pa.Check(
        lambda column: bool(column.isna().mean() <= limit),
        ignore_na=False,
        name=NULL_FRACTION_RULE,
        error=f"{NULL_FRACTION_RULE}({limit})",
    )


def _feature_column(feature: NumericFeature | CategoricalFeature) -> pa.Column:
    checks = []
    if feature.max_null_fraction > 0:
        checks.append(_null_fraction_check(feature.max_null_fraction))
    if isinstance(feature, CategoricalFeature):
        checks.append(pa.Check.isin(feature.categories))
        return pa.Column(str, checks, nullable=feature.max_null_fraction > 0)
    if feature.type == "integer":
        # Checked as a rule rather than cast to an integer dtype, so each fractional value
        # is reported, and a nullable integer column (stored as floats) still passes.
        checks.append(pa.Check(lambda column: column % 1 == 0, name=WHOLE_NUMBER_RULE))
    if feature.min is not None:
        checks.append(pa.Check.ge(feature.min))
    if feature.max is not None:
        checks.append(pa.Check.le(feature.max))
    return pa.Column("float64", checks, nullable=feature.max_null_fraction > 0, coerce=True)


def dataframe_schema(schema: FeatureSchema) -> pa.DataFrameSchema:
    """The pandera schema that the validate stage enforces on the raw table."""
    classes = [schema.target.positive, schema.target.negative]
    columns = {
        schema.id_column: pa.Column(nullable=False, unique=True),
        **{name: _feature_column(feature) for name, feature in schema.features.items()},
        schema.target.name: pa.Column(
            str,
            [
                pa.Check.isin(classes),
                # A one-class label cannot train a classifier; say so here, not as a traceback in train.
                pa.Check(lambda label: set(classes) <= set(label), name=BOTH_CLASSES_RULE),
            ],
            nullable=False,
        ),
    }
    return pa.DataFrameSchema(columns, strict=True, name="feature schema")


def features_and_label(frame: pd.DataFrame, schema: FeatureSchema) -> tuple[pd.DataFrame, pd.Series]:
    """Split a table into the model's input columns and a 0/1 label (1 = positive class)."""
    label = (frame[schema.target.name] == schema.target.positive).astype("int64")
    return frame[schema.feature_names], label
