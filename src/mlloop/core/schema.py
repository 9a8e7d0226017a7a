"""The feature schema: one declaration, read from the schema file named in params.yaml.

Validation, training, the service's request model and the drift check all derive
what they need from a FeatureSchema, so they cannot disagree on a column.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, ValidationError, model_validator

from mlloop.config import Frozen, describe_validation_error, read_yaml_mapping
from mlloop.errors import ConfigError

if TYPE_CHECKING:  # pandas and pandera cost a second to import: core.schema_frames holds what needs them
    import pandas as pd

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


def features_and_label(frame: "pd.DataFrame", schema: FeatureSchema) -> tuple["pd.DataFrame", "pd.Series"]:
    """Split a table into the model's input columns and a 0/1 label (1 = positive class)."""
    label = (frame[schema.target.name] == schema.target.positive).astype("int64")
    return frame[schema.feature_names], label
