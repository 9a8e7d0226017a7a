"""The service's request and response models, generated from the feature schema, so that
training and serving cannot disagree on a field, a type, a range or a category.

A customer may also carry the schema's id column (`customer_id`): the caller's own id for that
customer, optional, logged with the prediction so that a delayed outcome can be joined to it by
that id (monitoring.outcomes), and never given to the model.
"""

from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, create_model
from typing_extensions import TypedDict

from mlloop.core.schema import CategoricalFeature, FeatureSchema, NumericFeature
from mlloop.serving.inference_log import Variant

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


def _client_id(schema: FeatureSchema, max_chars: int) -> Any:
    """A non-empty string of at most `max_chars`: absent is fine, null or a number is refused."""
    description = (
        f"optional: your own id for this customer ({schema.id_column} in the schema), logged with the "
        "prediction so that its outcome can be sent later by this id; never a model input"
    )
    return Annotated[str, Field(min_length=1, max_length=max_chars, description=description)]


def customer_model(schema: FeatureSchema, max_client_id_chars: int) -> type[BaseModel]:
    """One customer's features: every schema feature is required; the client id may be added; nothing else."""
    fields: dict[str, Any] = {name: (_field(feature), ...) for name, feature in schema.features.items()}
    # The default is not validated, so an absent id is None while an explicit null is refused.
    fields[schema.id_column] = (_client_id(schema, max_client_id_chars), None)
    model: type[BaseModel] = create_model("Customer", __config__=REQUEST_CONFIG, **fields)
    return model


def customer_record(schema: FeatureSchema, max_client_id_chars: int) -> Any:
    """The same contract as customer_model, validating to a plain dict (without the id's key when it is absent).

    For batch items: building a model instance per customer costs more than half of validating it.
    """
    fields = {name: _field(feature) for name, feature in schema.features.items()}
    fields[schema.id_column] = NotRequired[_client_id(schema, max_client_id_chars)]
    record = TypedDict("CustomerRecord", fields)  # type: ignore[misc]
    record.__pydantic_config__ = REQUEST_CONFIG  # type: ignore[attr-defined]
    return record


class Prediction(BaseModel):
    """The answer for one customer."""

    churn_probability: float = Field(ge=0, le=1, description="probability of the positive class")
    churn: bool = Field(description="churn_probability >= threshold")
    threshold: float = Field(description="the decision threshold stored with the model that answered")
    model_version: str = Field(
        description="the model that answered: its registry version tag (churn@vX.Y.Z), or its tag in the BentoML "
        "store when it has no version"
    )
    variant: Variant = Field(
        description="which of the bento's models answered: `champion` (the model in production) or `challenger` "
        "(the model being tried, in split mode)"
    )
    prediction_id: str = Field(
        description="this row's id in the inference log (the request's id and the row's position): "
        "send it with the customer's outcome when it is known"
    )


class Predictions(BaseModel):
    """The answers for a batch, in request order.

    An object rather than a bare list: BentoML serialises a model in one pass, a bare list in
    three, which cost a 1,000-row batch a tenth of its time.
    """

    predictions: list[Prediction]
