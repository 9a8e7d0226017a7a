"""The service's request and response models, generated from the feature schema, so that
training and serving cannot disagree on a field, a type, a range or a category.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model
from typing_extensions import TypedDict

from mlloop.core.schema import CategoricalFeature, FeatureSchema, NumericFeature

REQUEST_CONFIG = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True, cache_strings="keys")
"""Unknown fields, strings for numbers, NaN and infinity are all refused, never coerced.

Only keys are interned while parsing: looking every category value up in the string cache made
validating a 1,000-row batch a fifth slower (bench/README.md)."""


def _field(feature: NumericFeature | CategoricalFeature) -> Any:
    annotation: Any
    if isinstance(feature, CategoricalFeature):
        annotation = Literal[tuple(feature.categories)]
        constraints: dict[str, Any] = {}
    else:
        annotation = int if feature.type == "integer" else float
        constraints = {"ge": feature.min, "le": feature.max}
    if feature.max_null_fraction > 0:
        annotation = annotation | None  # null is allowed, and the model applies the schema's fill rule
    return Annotated[annotation, Field(description=feature.description or None, **constraints)]


def customer_model(schema: FeatureSchema) -> type[BaseModel]:
    """One customer's features: every schema feature is required, nothing else is accepted."""
    fields: dict[str, Any] = {name: (_field(feature), ...) for name, feature in schema.features.items()}
    model: type[BaseModel] = create_model("Customer", __config__=REQUEST_CONFIG, **fields)
    return model


def customer_record(schema: FeatureSchema) -> Any:
    """The same contract as customer_model, validating to a plain dict.

    For batch items: building a model instance per customer costs more than half of validating it.
    """
    fields = {name: _field(feature) for name, feature in schema.features.items()}
    record = TypedDict("CustomerRecord", fields)  # type: ignore[misc]
    record.__pydantic_config__ = REQUEST_CONFIG  # type: ignore[attr-defined]
    return record


class Prediction(BaseModel):
    """The answer for one customer."""

    churn_probability: float = Field(ge=0, le=1, description="probability of the positive class")
    churn: bool = Field(description="churn_probability >= threshold")
    threshold: float = Field(description="the decision threshold stored with the model")
    model_version: str = Field(description="the model's tag in the BentoML store")


class Predictions(BaseModel):
    """The answers for a batch, in request order.

    An object rather than a bare list: BentoML serialises a model in one pass, a bare list in
    three, which cost a 1,000-row batch a tenth of its time.
    """

    predictions: list[Prediction]
