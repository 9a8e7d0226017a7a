"""The split's three pools: each row in one, placed by its feature values and the seed alone, so adding
rows to the source moves none already there, and rows folded in from production always train."""

import math
from typing import get_args

import numpy as np
import pandas as pd

from mlloop.config import HeldOutPool, SplitParams
from mlloop.core.schema import FeatureSchema
from mlloop.pipeline.pools import PRODUCTION_ID_PREFIX, Pool, assign_pools, evaluation_rows, row_keys, split_table

SPLIT = SplitParams(test_size=0.2, traffic_size=0.1, seed=42)
CUSTOMERS = 4000
STANDARD_ERRORS = 4
"""How far from its expectation a share may fall by chance: four standard errors, about 1 in 16,000."""


def _numeric(schema: FeatureSchema) -> str:
    return next(iter(schema.numeric_features))


def _many_customers(valid_table: pd.DataFrame, schema: FeatureSchema, rows: int) -> pd.DataFrame:
    """`rows` customers resampled from valid_table, each made unique by one numeric feature's value."""
    table = valid_table.sample(rows, replace=True, random_state=0).reset_index(drop=True)
    table[schema.id_column] = np.arange(1, rows + 1)
    table[_numeric(schema)] = np.arange(rows, dtype="float64")
    return table


def _within_chance(observed: int, rows: int, share: float) -> bool:
    return abs(observed - rows * share) <= STANDARD_ERRORS * math.sqrt(rows * share * (1 - share))


def test_every_row_lands_in_exactly_one_pool(schema: FeatureSchema, valid_table: pd.DataFrame) -> None:
    split = split_table(valid_table, schema, SPLIT)

    parts = {"train": split.train, "traffic": split.traffic, "evaluation": split.evaluation}
    ids = {name: set(part[schema.id_column]) for name, part in parts.items()}
    assert sum(len(part) for part in parts.values()) == len(valid_table), "no row is lost or repeated"
    assert set().union(*ids.values()) == set(valid_table[schema.id_column])
    assert ids["train"].isdisjoint(ids["evaluation"]), "a customer must not both train and judge"
    assert ids["traffic"].isdisjoint(ids["evaluation"]), "a customer must not both drive traffic and judge"
    assert ids["train"].isdisjoint(ids["traffic"])


def test_each_pool_takes_its_share_of_the_rows_and_of_the_positives_within_chance(
    schema: FeatureSchema, valid_table: pd.DataFrame
) -> None:
    table = _many_customers(valid_table, schema, CUSTOMERS)

    pools = assign_pools(table, schema, SPLIT)

    positive = table[schema.target.name] == schema.target.positive
    shares = {Pool.EVALUATION: SPLIT.test_size, Pool.TRAFFIC: SPLIT.traffic_size}
    shares[Pool.TRAIN] = 1 - sum(shares.values())
    for pool, share in shares.items():
        rows = int((pools == pool).sum())
        assert _within_chance(rows, CUSTOMERS, share), f"{pool}: {rows} of {CUSTOMERS} rows, share {share}"
        positives = int((positive & (pools == pool)).sum())
        assert _within_chance(positives, rows, float(positive.mean())), f"{pool}: {positives} positives of {rows}"


def test_adding_rows_to_the_source_moves_no_row_already_there(schema: FeatureSchema, valid_table: pd.DataFrame) -> None:
    # given: the pools of a source table
    table = _many_customers(valid_table, schema, CUSTOMERS)
    before = assign_pools(table, schema, SPLIT)

    # when: the source grows by new customers and by rows folded in from production
    new_customers = _many_customers(valid_table, schema, 500)
    new_customers[schema.id_column] += CUSTOMERS
    new_customers[_numeric(schema)] += CUSTOMERS
    folded = table.sample(300, random_state=1).assign(
        **{schema.id_column: [f"{PRODUCTION_ID_PREFIX}request-{index}-0" for index in range(300)]}
    )
    grown = pd.concat([table, new_customers, folded], ignore_index=True)
    after = assign_pools(grown, schema, SPLIT)

    # then: every row already there keeps its pool
    pd.testing.assert_series_equal(after.iloc[: len(table)], before)
    assert (after.iloc[len(table) :] == Pool.EVALUATION).any(), "the new customers are drawn like the others"


def test_rows_folded_in_from_production_always_train_even_when_they_copy_a_held_out_customer(
    schema: FeatureSchema, valid_table: pd.DataFrame
) -> None:
    # given: copies of every customer, with the ids fold-in gives the rows it adds
    copies = valid_table.assign(
        **{schema.id_column: [f"{PRODUCTION_ID_PREFIX}{index}" for index in range(len(valid_table))]}
    )
    table = pd.concat([valid_table, copies], ignore_index=True)

    pools = assign_pools(table, schema, SPLIT)

    original = pools.iloc[: len(valid_table)]
    assert set(original) == {Pool.TRAIN, Pool.TRAFFIC, Pool.EVALUATION}, "the originals are drawn as always"
    assert (pools.iloc[len(valid_table) :] == Pool.TRAIN).all(), "every row folded in trains"


def test_identical_feature_rows_share_a_pool_whatever_their_ids_and_labels(
    schema: FeatureSchema, valid_table: pd.DataFrame
) -> None:
    # given: each customer twice, under another id and with the other label
    other_label = {schema.target.positive: schema.target.negative, schema.target.negative: schema.target.positive}
    twins = valid_table.assign(
        **{
            schema.id_column: valid_table[schema.id_column] + len(valid_table),
            schema.target.name: valid_table[schema.target.name].map(other_label),
        }
    )

    pools = assign_pools(pd.concat([valid_table, twins], ignore_index=True), schema, SPLIT)

    assert list(pools.iloc[: len(valid_table)]) == list(pools.iloc[len(valid_table) :])


def test_a_rows_pool_does_not_depend_on_the_dtypes_or_the_order_it_was_read_in(
    schema: FeatureSchema, valid_table: pd.DataFrame
) -> None:
    # given: the table as a log or a CSV gives it back: numbers as floats, ids as text, rows shuffled
    retyped = valid_table.assign(
        **{name: valid_table[name].astype("float64") for name in schema.numeric_features},
        **{schema.id_column: valid_table[schema.id_column].astype(str)},
    ).sample(frac=1, random_state=3)

    assert list(row_keys(retyped, schema).sort_index()) == list(row_keys(valid_table, schema))
    pd.testing.assert_series_equal(
        assign_pools(retyped, schema, SPLIT).sort_index(), assign_pools(valid_table, schema, SPLIT)
    )


def test_a_missing_value_is_one_key_whatever_the_dtype_calls_it(
    schema: FeatureSchema, valid_table: pd.DataFrame
) -> None:
    row = valid_table.iloc[[0]].copy()
    as_nan, as_none = row.copy(), row.astype(object)
    as_nan[_numeric(schema)] = np.nan
    as_none[_numeric(schema)] = None

    assert row_keys(as_nan, schema).iloc[0] == row_keys(as_none, schema).iloc[0]
    assert row_keys(as_nan, schema).iloc[0] != row_keys(row, schema).iloc[0]


def test_the_seed_redraws_the_pools(schema: FeatureSchema, valid_table: pd.DataFrame) -> None:
    other_seed = SPLIT.model_copy(update={"seed": SPLIT.seed + 1})

    first = set(evaluation_rows(valid_table, schema, SPLIT)[schema.id_column])
    second = set(evaluation_rows(valid_table, schema, other_seed)[schema.id_column])

    assert first != second, "the seed must drive the split"


def test_the_pools_a_simulation_can_draw_from_are_the_held_out_ones() -> None:
    assert set(get_args(HeldOutPool)) == {Pool.TRAFFIC.value, Pool.EVALUATION.value}


def test_changing_the_traffic_share_leaves_the_evaluation_pool_as_it_was(
    schema: FeatureSchema, valid_table: pd.DataFrame
) -> None:
    # The customers that judge a model depend on test_size and the seed alone, so a pull request that
    # changes the traffic share is still compared with its baseline on the same customers.
    table = _many_customers(valid_table, schema, 1000)
    smaller_traffic = SPLIT.model_copy(update={"traffic_size": SPLIT.traffic_size / 2})

    assert set(evaluation_rows(table, schema, SPLIT)[schema.id_column]) == set(
        evaluation_rows(table, schema, smaller_traffic)[schema.id_column]
    )
