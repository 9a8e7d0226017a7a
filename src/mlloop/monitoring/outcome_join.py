"""The window's join of delayed labels to its rows, on the hashed keys of the outcome indexes.

monitoring.outcomes' rules, on monitoring.outcome_index's per-file indexes: a later label for an id
replaces an earlier one; a client's label joins the client's latest row of the window (an unreadable
timestamp is the oldest; of two rows at one moment, the later in the window); a prediction_id label
joins its row and wins over a client's. What the realised metrics need is kept: each distinct
(outcome, probability) with its count (outcome_cells), and the counts the report shows. numpy and
pyarrow only: the check that reads stored summaries never needs pandas.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from mlloop.monitoring.outcome_cells import OutcomeCells

PREDICTION_KEY = "prediction_key"
CLIENT_KEY = "client_key"
MOMENT = "moment"
PROBABILITY = "probability"
INDEX_SCHEMA = pa.schema(
    [
        pa.field(PREDICTION_KEY, pa.uint64()),
        pa.field(CLIENT_KEY, pa.uint64()),
        pa.field(MOMENT, pa.int64()),
        pa.field(PROBABILITY, pa.float64()),
    ]
)
"""A log file's outcome index: one row per readable line, in file order."""
LABEL_KIND = "by_prediction"
LABEL_KEY = "key"
LABEL_OUTCOME = "churn"
LABEL_SCHEMA = pa.schema(
    [pa.field(LABEL_KIND, pa.bool_()), pa.field(LABEL_KEY, pa.uint64()), pa.field(LABEL_OUTCOME, pa.bool_())]
)
"""A labels file's index: one row per usable label, in file order."""
UNREADABLE = b"unreadable_lines"
"""A labels index's metadata key: the file's label lines of no usable shape."""


def _latest(keys: np.ndarray, outcomes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each key once, sorted, with its last outcome (a correction replaces the label before it)."""
    reversed_keys = keys[::-1]
    unique, first_from_end = np.unique(reversed_keys, return_index=True)
    return unique, outcomes[::-1][first_from_end]


def _lookup(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Each key's position in `sorted_keys`, or -1."""
    if not len(sorted_keys):
        return np.full(len(keys), -1)
    positions = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return np.where(sorted_keys[positions] == keys, positions, -1)


@dataclass(frozen=True)
class JoinedOutcomes:
    """What the realised metrics and the report need of the join: the cells, and the label counts."""

    cells: OutcomeCells
    labels: int
    unmatched_labels: int
    unreadable_label_lines: int


def join_window(indexes: Iterable[pa.Table], label_indexes: Iterable[pa.Table]) -> JoinedOutcomes:
    """monitoring.outcomes.join_outcomes, on the window's file indexes (in window order) and its labels' indexes."""
    label_tables = list(label_indexes)
    labels = pa.concat_tables(label_tables) if label_tables else LABEL_SCHEMA.empty_table()
    unreadable = sum(int((table.schema.metadata or {}).get(UNREADABLE, b"0")) for table in label_tables)
    kinds = labels[LABEL_KIND].to_numpy(zero_copy_only=False).astype(bool)
    keys = labels[LABEL_KEY].to_numpy()
    outcomes = labels[LABEL_OUTCOME].to_numpy(zero_copy_only=False).astype(bool)
    prediction_keys, prediction_outcomes = _latest(keys[kinds], outcomes[kinds])
    client_keys, client_outcomes = _latest(keys[~kinds], outcomes[~kinds])
    count = len(prediction_keys) + len(client_keys)
    rows = pa.concat_tables(list(indexes) or [INDEX_SCHEMA.empty_table()])
    row_predictions = rows[PREDICTION_KEY].to_numpy(zero_copy_only=False)
    row_predictions = np.where(rows[PREDICTION_KEY].is_valid().to_numpy(zero_copy_only=False), row_predictions, 0)
    has_prediction = rows[PREDICTION_KEY].is_valid().to_numpy(zero_copy_only=False)
    probabilities = rows[PROBABILITY].to_numpy()
    outcome = np.zeros(len(rows), dtype=bool)
    labelled = np.zeros(len(rows), dtype=bool)
    matched = 0
    if len(client_keys):
        has_client = rows[CLIENT_KEY].is_valid().to_numpy(zero_copy_only=False)
        positions = np.flatnonzero(has_client)
        clients = rows[CLIENT_KEY].to_numpy(zero_copy_only=False)[positions].astype(np.uint64)
        moments = rows[MOMENT].fill_null(np.iinfo(np.int64).min).to_numpy()[positions]
        order = np.lexsort((positions, moments))  # an unreadable timestamp is the oldest; ties: the later row
        ordered = clients[order]
        unique, first_from_end = np.unique(ordered[::-1], return_index=True)
        latest = positions[order][len(ordered) - 1 - first_from_end]
        found = _lookup(client_keys, unique)
        joined = found >= 0
        outcome[latest[joined]] = client_outcomes[found[joined]]
        labelled[latest[joined]] = True
        matched += int(joined.sum())
    if len(prediction_keys):
        found = np.where(has_prediction, _lookup(prediction_keys, row_predictions.astype(np.uint64)), -1)
        joined = found >= 0
        outcome[joined] = prediction_outcomes[found[joined]]  # a prediction_id label wins
        labelled |= joined
        matched += len(np.unique(found[joined]))
    return JoinedOutcomes(
        cells=OutcomeCells.of(outcome[labelled], probabilities[labelled]),
        labels=count,
        unmatched_labels=count - matched,
        unreadable_label_lines=unreadable,
    )
