"""The split's three pools, and the rule that puts each row of the source table in one of them.

- `train`: what the model learns from.
- `traffic`: held-out customers that drive simulated production traffic. Their labelled rows may
  be folded back into the training source, so after a fold-in a model has seen copies of them.
- `evaluation` (the `test` split): held-out customers that judge a model: metrics.json, the
  gate, the pull request's comparison, and A/B traffic when asked for it. No copy of one ever
  reaches training data.

A row's pool is a pure function of the row and `split.seed`: the first eight bytes of a
SHA-256 of the seed and the row's feature values, read as a number in [0, 1), against the
cumulative shares `split.test_size` and `split.traffic_size`. Adding rows to the source (a
fold-in, a longer export) therefore moves no row already there. A re-drawn stratified split
(scikit-learn's train_test_split) would: its ranks depend on the whole table, so after a fold-in
original evaluation customers landed in train, and a retraining PR's held-out metrics were on a
different, partly leaked test set.

The feature values are hashed, not the id: the demo table holds 73 customers in 33 groups of
identical feature rows under distinct ids (18 groups with both labels), and an id hash put 3 to
15 of those groups on both sides of the evaluation pool's border (seeds 42 to 51). By value,
identical rows share a pool, so "no evaluation row in training data" holds by feature row as
well as by id. A schema change (a feature added or renamed) re-draws every pool; so does a
changed seed.

The price is exact stratification: each pool's size and positive rate differ from their shares
of the table by sampling noise only (on the demo, 7,043 rows at 26.5 % positive: ±1.2 points of
positive rate in a 20 % pool, one standard error; seed 42 gives train / traffic / evaluation
4,953 / 693 / 1,397 rows at 26.5 / 24.7 / 27.7 %).

Rows that `mlloop fold-in` added (their id starts with PRODUCTION_ID_PREFIX) always go to
train: they are copies of traffic customers, which is the point of folding them in.
"""

import hashlib
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mlloop.config import SplitParams
from mlloop.core.schema import FeatureSchema

PRODUCTION_ID_PREFIX = "production-"
"""The id `mlloop fold-in` gives a folded-in production row, followed by its prediction_id; the split reads it."""
_DRAW_BYTES = 8
_NULL = "\x00null"
"""How a missing value is written in a row's key: no category label or number is written so."""
_SEPARATOR = "\x1f"


class Pool(StrEnum):
    """The pool a row of the source table belongs to."""

    TRAIN = "train"
    TRAFFIC = "traffic"
    EVALUATION = "evaluation"


def _column_text(column: pd.Series, numeric: bool) -> pd.Series:
    """Each value as text that does not depend on the column's dtype: 3, 3.0 and "3.0" read from a
    log or a CSV are one number; a missing value is one marker whatever the dtype calls it. A value
    that is no number in a numeric column (a log line that broke the contract) is written as nan.
    """
    missing = column.isna()
    text = pd.to_numeric(column, errors="coerce").astype("float64").map(repr) if numeric else column.astype(str)
    return text.where(~missing, _NULL)


def row_keys(frame: pd.DataFrame, schema: FeatureSchema) -> pd.Series:
    """Each row's feature values as one text, the same for equal rows whatever their dtypes or id."""
    keys = pd.Series("", index=frame.index, dtype=object)
    for name in schema.feature_names:
        keys = keys + name + "=" + _column_text(frame[name], name in schema.numeric_features) + _SEPARATOR
    return keys


def _draws(keys: pd.Series, seed: int) -> NDArray[np.float64]:
    """A number in [0, 1) for each key, fixed by the key and the seed alone."""
    salt = f"{seed}{_SEPARATOR}".encode()
    digests = [hashlib.sha256(salt + key.encode()).digest()[:_DRAW_BYTES] for key in keys]
    return np.array([int.from_bytes(digest, "big") for digest in digests], dtype=np.float64) / 2.0 ** (8 * _DRAW_BYTES)


def is_production_row(ids: pd.Series) -> pd.Series:
    """Whether each row is one `mlloop fold-in` added, by its id."""
    return ids.astype(str).str.startswith(PRODUCTION_ID_PREFIX)


def assign_pools(table: pd.DataFrame, schema: FeatureSchema, split: SplitParams) -> pd.Series:
    """Each row's Pool (as its text), aligned with the table's index."""
    draws = _draws(row_keys(table, schema), split.seed)
    pools = np.where(
        draws < split.test_size,
        Pool.EVALUATION.value,
        np.where(draws < split.test_size + split.traffic_size, Pool.TRAFFIC.value, Pool.TRAIN.value),
    )
    assigned = pd.Series(pools, index=table.index, dtype=object)
    return assigned.mask(is_production_row(table[schema.id_column]), Pool.TRAIN.value)


@dataclass(frozen=True)
class SplitTables:
    """The source table cut into its three pools, each in the table's own row order."""

    train: pd.DataFrame
    traffic: pd.DataFrame
    evaluation: pd.DataFrame


def split_table(table: pd.DataFrame, schema: FeatureSchema, split: SplitParams) -> SplitTables:
    """The table's rows, each in the pool assign_pools gives it."""
    pools = assign_pools(table, schema, split)
    return SplitTables(
        train=table[pools == Pool.TRAIN.value],
        traffic=table[pools == Pool.TRAFFIC.value],
        evaluation=table[pools == Pool.EVALUATION.value],
    )


def evaluation_rows(table: pd.DataFrame, schema: FeatureSchema, split: SplitParams) -> pd.DataFrame:
    """The rows of the table that judge a model: what no training data may hold a copy of."""
    return split_table(table, schema, split).evaluation
