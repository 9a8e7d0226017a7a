"""The service's request model is generated from the feature schema: same fields, types,
ranges and categories, and it refuses anything else instead of coercing it."""

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from mlloop.contract import customer_model
from mlloop.schema import FeatureSchema
from mlloop.smoke import example_customer


@pytest.fixture(scope="module")
def customer(schema: FeatureSchema) -> type[BaseModel]:
    return customer_model(schema)


def test_request_fields_are_exactly_the_schema_features(customer: type[BaseModel], schema: FeatureSchema) -> None:
    assert list(customer.model_fields) == schema.feature_names


def test_a_customer_within_the_schema_such_as_the_smoke_tests_is_accepted(
    customer: type[BaseModel], schema: FeatureSchema
) -> None:
    accepted = customer.model_validate(example_customer(schema))
    assert accepted.model_dump() == example_customer(schema)


def test_json_schema_carries_ranges_categories_and_descriptions(customer: type[BaseModel]) -> None:
    properties = customer.model_json_schema()["properties"]
    assert properties["tenure"]["minimum"] == 0 and properties["tenure"]["maximum"] == 120
    assert properties["contract"]["enum"] == ["Month-to-month", "One year", "Two year"]
    assert properties["tenure"]["description"] == "months with the company"


def test_only_nullable_features_accept_null(customer: type[BaseModel], schema: FeatureSchema) -> None:
    customer.model_validate(example_customer(schema) | {"total_charges": None})
    with pytest.raises(ValidationError, match="monthly_charges"):
        customer.model_validate(example_customer(schema) | {"monthly_charges": None})


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
    customer: type[BaseModel], schema: FeatureSchema, change: dict[str, Any], field: str, rule: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        customer.model_validate(example_customer(schema) | change)
    assert [(error["loc"], error["type"]) for error in raised.value.errors()] == [((field,), rule)]
