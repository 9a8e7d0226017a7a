"""The service's request contract is generated from the feature schema: same fields, types,
ranges and categories, and it refuses anything else instead of coercing it. Both kinds follow
the same rules: the model for one customer, and the record (a TypedDict) for batch items, which
validates to a plain dict. The batch answer is an object holding the predictions in order."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from mlloop.core.schema import FeatureSchema
from mlloop.serving.contract import Prediction, Predictions, customer_model, customer_record
from mlloop.serving.smoke import example_customer


@pytest.fixture(
    scope="module",
    params=[pytest.param(customer_model, id="model"), pytest.param(customer_record, id="record")],
)
def customer(request: pytest.FixtureRequest, schema: FeatureSchema) -> TypeAdapter[Any]:
    kind: Callable[[FeatureSchema], Any] = request.param
    return TypeAdapter(kind(schema))


def test_request_fields_are_exactly_the_schema_features(customer: TypeAdapter[Any], schema: FeatureSchema) -> None:
    assert list(customer.json_schema()["properties"]) == schema.feature_names
    assert customer.json_schema()["required"] == schema.feature_names, "every feature is required"


def test_a_customer_within_the_schema_such_as_the_smoke_tests_is_accepted(
    customer: TypeAdapter[Any], schema: FeatureSchema
) -> None:
    accepted = customer.validate_python(example_customer(schema))
    assert customer.dump_python(accepted) == example_customer(schema)


def test_a_record_validates_to_a_plain_dict_equal_to_the_input(schema: FeatureSchema) -> None:
    record = TypeAdapter(customer_record(schema)).validate_python(example_customer(schema))
    assert type(record) is dict
    assert record == example_customer(schema)


def test_json_schema_carries_ranges_categories_and_descriptions(customer: TypeAdapter[Any]) -> None:
    properties = customer.json_schema()["properties"]
    assert properties["tenure"]["minimum"] == 0
    assert properties["tenure"]["maximum"] == 120
    assert properties["contract"]["enum"] == ["Month-to-month", "One year", "Two year"]
    assert properties["tenure"]["description"] == "months with the company"


def test_only_nullable_features_accept_null(customer: TypeAdapter[Any], schema: FeatureSchema) -> None:
    accepted = customer.validate_python(example_customer(schema) | {"total_charges": None})
    assert customer.dump_python(accepted)["total_charges"] is None
    with pytest.raises(ValidationError, match="monthly_charges"):
        customer.validate_python(example_customer(schema) | {"monthly_charges": None})


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        pytest.param({"tenure": "12"}, "tenure", "int_type", id="string for an integer"),
        pytest.param({"tenure": 2.5}, "tenure", "int_type", id="fraction for an integer"),
        pytest.param({"tenure": 121}, "tenure", "less_than_equal", id="above max"),
        pytest.param({"monthly_charges": float("nan")}, "monthly_charges", "finite_number", id="NaN"),
        pytest.param({"monthly_charges": float("inf")}, "monthly_charges", "finite_number", id="infinity"),
        pytest.param({"contract": "Weekly"}, "contract", "literal_error", id="unknown category"),
        pytest.param({"loyalty": 1}, "loyalty", "extra_forbidden", id="unknown field"),
    ],
)
def test_anything_outside_the_schema_is_refused_naming_field_and_rule(
    customer: TypeAdapter[Any], schema: FeatureSchema, change: dict[str, Any], field: str, rule: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        customer.validate_python(example_customer(schema) | change)
    assert [(error["loc"], error["type"]) for error in raised.value.errors()] == [((field,), rule)]


@pytest.mark.parametrize("field", ["tenure", "total_charges", "contract"])
def test_a_missing_feature_is_refused_even_a_nullable_one(
    customer: TypeAdapter[Any], schema: FeatureSchema, field: str
) -> None:
    incomplete = {name: value for name, value in example_customer(schema).items() if name != field}
    with pytest.raises(ValidationError) as raised:
        customer.validate_python(incomplete)
    assert [(error["loc"], error["type"]) for error in raised.value.errors()] == [((field,), "missing")]


def test_the_batch_answer_is_an_object_holding_the_predictions_in_request_order() -> None:
    first = Prediction(churn_probability=0.75, churn=True, threshold=0.5, model_version="churn:abc")
    second = Prediction(churn_probability=0.25, churn=False, threshold=0.5, model_version="churn:abc")

    answer = json.loads(Predictions(predictions=[first, second]).model_dump_json())

    assert answer == {
        "predictions": [
            {"churn_probability": 0.75, "churn": True, "threshold": 0.5, "model_version": "churn:abc"},
            {"churn_probability": 0.25, "churn": False, "threshold": 0.5, "model_version": "churn:abc"},
        ]
    }
