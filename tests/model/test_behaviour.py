"""
Behavioural tests of the real model (params.yaml, trained on the real split): the gate's quality
floors, read from params.yaml, on any table; then the minimum functionality, directional expectations
and invariance of the demo dataset's customers, which skip, saying so, on a table of other customers
(tests/demo_dataset.py).
"""

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from tests.demo_dataset import skip_unless_demo_features

from mlloop.config import Params
from mlloop.core.metrics import METRICS
from mlloop.core.model import build_pipeline, fit
from mlloop.core.schema import FeatureSchema, features_and_label
from mlloop.pipeline.data import ingest
from mlloop.pipeline.evaluation import churn_probability, classification_metrics
from mlloop.pipeline.pools import split_table

# Flipping `female` must not move one customer's churn probability by 3 points or more.
# In the data, women and men churn at 26.9% and 26.2%: under one point apart. Trees still
# split on the column here and there, so each customer gets a little room (the largest
# shift among the profiles below is 1.4 points), while a real driver such as the contract
# moves the same customers by 5 to 57 points.
PER_CUSTOMER_TOLERANCE = 0.03
# Over the whole test split the shifts must cancel out to within the one point by which
# the sexes' churn rates differ in the data.
AVERAGE_TOLERANCE = 0.01

NO_INTERNET = "No internet service"


def _customer(**changes: Any) -> dict[str, Any]:
    """A plausible customer: a year on a month-to-month DSL plan; `changes` override any field."""
    customer: dict[str, Any] = {
        "female": 0,
        "senior_citizen": 0,
        "partner": 0,
        "dependents": 0,
        "tenure": 12,
        "phone_service": 1,
        "multiple_lines": "No",
        "internet_service": "DSL",
        "online_security": "No",
        "online_backup": "No",
        "device_protection": "No",
        "tech_support": "No",
        "streaming_tv": "No",
        "streaming_movies": "No",
        "contract": "Month-to-month",
        "paperless_billing": 1,
        "payment_method": "Mailed check",
        "monthly_charges": 60.0,
    }
    customer |= changes
    customer.setdefault("total_charges", customer["tenure"] * customer["monthly_charges"])
    return customer


BASE_CUSTOMERS = {
    "fiber newcomer": _customer(
        tenure=2, internet_service="Fiber optic", payment_method="Electronic check", monthly_charges=85.0
    ),
    "DSL family": _customer(
        tenure=24,
        partner=1,
        dependents=1,
        online_security="Yes",
        tech_support="Yes",
        paperless_billing=0,
        monthly_charges=65.0,
    ),
    "fiber streamer": _customer(
        internet_service="Fiber optic",
        multiple_lines="Yes",
        streaming_tv="Yes",
        streaming_movies="Yes",
        payment_method="Credit card (automatic)",
        monthly_charges=100.0,
    ),
    "senior on fiber": _customer(tenure=6, senior_citizen=1, internet_service="Fiber optic", monthly_charges=80.0),
    "phone only": _customer(
        tenure=18,
        internet_service="No",
        online_security=NO_INTERNET,
        online_backup=NO_INTERNET,
        device_protection=NO_INTERNET,
        tech_support=NO_INTERNET,
        streaming_tv=NO_INTERNET,
        streaming_movies=NO_INTERNET,
        paperless_billing=0,
        monthly_charges=20.0,
    ),
}
CUSTOMER_IDS = list(BASE_CUSTOMERS)


@pytest.fixture(scope="module")
def real_split(project_params: Params, project_schema: FeatureSchema) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The train and test tables of the real pipeline."""
    table = ingest(project_params.data.source, project_params.data.rename)
    split = split_table(table, project_schema, project_params.split)
    return split.train, split.evaluation


@pytest.fixture(scope="module")
def model(
    project_params: Params, project_schema: FeatureSchema, real_split: tuple[pd.DataFrame, pd.DataFrame]
) -> Pipeline:
    """The model of params.yaml, trained once for the whole module."""
    features, label = features_and_label(real_split[0], project_schema)
    train = project_params.train
    return fit(build_pipeline(project_schema, train.estimator, train.hyperparameters, train.seed), features, label)


@pytest.fixture(scope="module")
def demo_customers(project_params: Params, project_schema: FeatureSchema) -> dict[str, dict[str, Any]]:
    """The demo's customer profiles; the tests using them skip, naming the demo dataset, on other customers."""
    skip_unless_demo_features(project_params, project_schema, _customer())
    return BASE_CUSTOMERS


def _probability(model: Pipeline, project_schema: FeatureSchema, *customers: dict[str, Any]) -> np.ndarray:
    return churn_probability(model, pd.DataFrame(list(customers))[project_schema.feature_names])


def test_test_split_metrics_meet_every_floor_of_the_gate(
    model: Pipeline,
    project_schema: FeatureSchema,
    project_params: Params,
    real_split: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    # params.yaml gate.worst_acceptable: a floor for a metric where higher is better, a ceiling otherwise.
    features, label = features_and_label(real_split[1], project_schema)

    metrics = classification_metrics(label, churn_probability(model, features), project_params.train.threshold)

    misses = {
        name: {"value": round(metrics[name], 4), "worst acceptable": worst}
        for name, worst in project_params.gate.worst_acceptable.items()
        if METRICS[name].improvement(metrics[name] - worst) < 0
    }
    assert not misses, misses


def test_customer_profiles_set_every_feature_of_the_schema(
    project_schema: FeatureSchema, demo_customers: dict[str, dict[str, Any]]
) -> None:
    for name, customer in demo_customers.items():
        assert set(customer) == set(project_schema.feature_names), name


@pytest.mark.usefixtures("demo_customers")
def test_new_fiber_customer_on_monthly_contract_is_riskier_than_a_loyal_two_year_customer(
    model: Pipeline, project_schema: FeatureSchema, project_params: Params
) -> None:
    # given: the textbook churner and the textbook stayer
    newcomer = _customer(
        tenure=1,
        internet_service="Fiber optic",
        contract="Month-to-month",
        payment_method="Electronic check",
        monthly_charges=80.0,
    )
    loyal = _customer(
        tenure=70,
        internet_service="Fiber optic",
        contract="Two year",
        payment_method="Bank transfer (automatic)",
        monthly_charges=80.0,
    )

    # when
    newcomer_probability, loyal_probability = _probability(model, project_schema, newcomer, loyal)

    # then
    assert newcomer_probability > loyal_probability, (newcomer_probability, loyal_probability)
    threshold = project_params.train.threshold
    assert newcomer_probability >= threshold, "the textbook churner should be flagged"
    assert loyal_probability < threshold, "the textbook stayer should not be flagged"


@pytest.mark.parametrize("customer_id", CUSTOMER_IDS)
def test_two_year_contract_lowers_churn_probability(
    model: Pipeline, project_schema: FeatureSchema, demo_customers: dict[str, dict[str, Any]], customer_id: str
) -> None:
    monthly = demo_customers[customer_id]
    committed = monthly | {"contract": "Two year"}

    monthly_probability, committed_probability = _probability(model, project_schema, monthly, committed)

    assert committed_probability < monthly_probability, (monthly_probability, committed_probability)


@pytest.mark.parametrize("customer_id", CUSTOMER_IDS)
def test_longer_tenure_lowers_churn_probability(
    model: Pipeline, project_schema: FeatureSchema, demo_customers: dict[str, dict[str, Any]], customer_id: str
) -> None:
    # given: the same customer five years in, with the total charges that five years add up to
    customer = demo_customers[customer_id]
    veteran = customer | {"tenure": 60, "total_charges": 60 * customer["monthly_charges"]}

    customer_probability, veteran_probability = _probability(model, project_schema, customer, veteran)

    assert veteran_probability < customer_probability, (customer_probability, veteran_probability)


@pytest.mark.parametrize("customer_id", CUSTOMER_IDS)
def test_sex_barely_changes_a_customers_churn_probability(
    model: Pipeline, project_schema: FeatureSchema, demo_customers: dict[str, dict[str, Any]], customer_id: str
) -> None:
    customer = demo_customers[customer_id]
    as_man, as_woman = customer | {"female": 0}, customer | {"female": 1}

    man_probability, woman_probability = _probability(model, project_schema, as_man, as_woman)

    assert abs(woman_probability - man_probability) < PER_CUSTOMER_TOLERANCE, (
        man_probability,
        woman_probability,
    )


@pytest.mark.usefixtures("demo_customers")
def test_flipping_sex_for_everyone_leaves_the_average_probability_in_place(
    model: Pipeline, project_schema: FeatureSchema, real_split: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    features, _ = features_and_label(real_split[1], project_schema)
    flipped = features.assign(female=1 - features["female"])

    shift = churn_probability(model, flipped) - churn_probability(model, features)

    assert abs(shift.mean()) < AVERAGE_TOLERANCE, f"average shift {shift.mean():+.4f}"
