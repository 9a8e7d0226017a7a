"""The service's request contract is generated from the feature schema: same fields, types,
ranges and categories, and it refuses anything else instead of coercing it. Both kinds follow
the same rules: the model for one customer, and the record (a TypedDict) for batch items, which
validates to a plain dict. A customer may carry the schema's id column, a client id, within
params' length limit. The batch answer is an object holding the predictions in order, each with
its prediction_id."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError
from tests.conftest import PARAMS_FILE

from mlloop.config import load_params
from mlloop.core.schema import FeatureSchema
from mlloop.serving.contract import Prediction, Predictions, customer_model, customer_record
from mlloop.serving.smoke import example_customer

MAX_ID_CHARS = load_params(PARAMS_FILE).serve.max_client_id_chars


@pytest.fixture(
    scope="module",
    params=[pytest.param(customer_model, id="model"), pytest.param(customer_record, id="record")],
)
def customer(request: pytest.FixtureRequest, schema: FeatureSchema) -> TypeAdapter[Any]:
    kind: Callable[[FeatureSchema, int], Any] = request.param
    return TypeAdapter(kind(schema, MAX_ID_CHARS))


def test_request_fields_are_the_schema_features_and_its_id_column(
    customer: TypeAdapter[Any], schema: FeatureSchema
) -> None:
    assert list(customer.json_schema()["properties"]) == [*schema.feature_names, schema.id_column]
    assert customer.json_schema()["required"] == schema.feature_names, "every feature is required, the id is not"


def test_a_client_id_is_accepted_and_kept_apart_from_the_features(
    customer: TypeAdapter[Any], schema: FeatureSchema
) -> None:
    longest = "C" * MAX_ID_CHARS
    accepted = customer.dump_python(customer.validate_python(example_customer(schema) | {schema.id_column: longest}))
    assert accepted == example_customer(schema) | {schema.id_column: longest}


def test_a_customer_without_a_client_id_has_none(schema: FeatureSchema) -> None:
    one = customer_model(schema, MAX_ID_CHARS).model_validate(example_customer(schema))
    record = TypeAdapter(customer_record(schema, MAX_ID_CHARS)).validate_python(example_customer(schema))
    assert getattr(one, schema.id_column) is None, "the service pops the id from every row alike"
    assert schema.id_column not in record


@pytest.mark.parametrize(
    ("client_id", "rule"),
    [
        pytest.param(7590, "string_type", id="a number"),
        pytest.param(None, "string_type", id="null"),
        pytest.param("", "string_too_short", id="empty"),
        pytest.param("C" * (MAX_ID_CHARS + 1), "string_too_long", id="over the limit"),
    ],
)
def test_a_bad_client_id_is_refused_naming_the_field_the_rule_and_the_value(
    customer: TypeAdapter[Any], schema: FeatureSchema, client_id: Any, rule: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        customer.validate_python(example_customer(schema) | {schema.id_column: client_id})
    assert [(error["loc"], error["type"], error["input"]) for error in raised.value.errors()] == [
        ((schema.id_column,), rule, client_id)
    ]


def test_a_customer_within_the_schema_such_as_the_smoke_tests_is_accepted(
    customer: TypeAdapter[Any], schema: FeatureSchema
) -> None:
    accepted = customer.validate_python(example_customer(schema))
    assert customer.dump_python(accepted, exclude_unset=True) == example_customer(schema)


def test_a_record_validates_to_a_plain_dict_equal_to_the_input(schema: FeatureSchema) -> None:
    record = TypeAdapter(customer_record(schema, MAX_ID_CHARS)).validate_python(example_customer(schema))
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


def test_the_batch_answer_is_an_object_holding_the_predictions_in_request_order_each_with_its_id_and_model() -> None:
    first = Prediction(
        churn_probability=0.75,
        churn=True,
        threshold=0.5,
        model_version="churn@v0.1.0",
        variant="champion",
        prediction_id="9f1c-0",
    )
    second = Prediction(
        churn_probability=0.25,
        churn=False,
        threshold=0.4,
        model_version="churn@v0.2.0",
        variant="challenger",
        prediction_id="9f1c-1",
    )

    answer = json.loads(Predictions(predictions=[first, second]).model_dump_json())

    assert answer == {
        "predictions": [
            {
                "churn_probability": 0.75,
                "churn": True,
                "threshold": 0.5,
                "model_version": "churn@v0.1.0",
                "variant": "champion",
                "prediction_id": "9f1c-0",
            },
            {
                "churn_probability": 0.25,
                "churn": False,
                "threshold": 0.4,
                "model_version": "churn@v0.2.0",
                "variant": "challenger",
                "prediction_id": "9f1c-1",
            },
        ]
    }
