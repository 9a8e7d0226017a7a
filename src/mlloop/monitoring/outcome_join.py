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


def _column(table: pa.Table, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A nullable integer column's values (0 where null) and which are present."""
    column = table[name]
    present = column.is_valid().to_numpy(zero_copy_only=False)
    return column.fill_null(0).to_numpy(), present


def join_window(indexes: Iterable[pa.Table], label_indexes: Iterable[pa.Table]) -> JoinedOutcomes:
    """monitoring.outcomes.join_outcomes, on the window's file indexes (in window order) and its labels' indexes.

    One file's index at a time: what stays in memory is the labels and the rows of labelled clients.
    """
    label_tables = list(label_indexes)
    labels = pa.concat_tables(label_tables) if label_tables else LABEL_SCHEMA.empty_table()
    unreadable = sum(int((table.schema.metadata or {}).get(UNREADABLE, b"0")) for table in label_tables)
    kinds = labels[LABEL_KIND].to_numpy(zero_copy_only=False).astype(bool)
    keys = labels[LABEL_KEY].to_numpy()
    outcomes = labels[LABEL_OUTCOME].to_numpy(zero_copy_only=False).astype(bool)
    prediction_keys, prediction_outcomes = _latest(keys[kinds], outcomes[kinds])
    client_keys, client_outcomes = _latest(keys[~kinds], outcomes[~kinds])
    del labels, kinds, keys, outcomes
    used = np.zeros(len(prediction_keys), dtype=bool)
    joined_outcomes, joined_probabilities = [], []
    candidates: list[
        tuple[np.ndarray, ...]
    ] = []  # rows of labelled clients: client, moment, position, probability, row labelled
    position = 0
    for table in indexes:
        predictions, has_prediction = _column(table, PREDICTION_KEY)
        probabilities = table[PROBABILITY].to_numpy()
        found = np.where(has_prediction, _lookup(prediction_keys, predictions), -1)
        joined = found >= 0
        used[found[joined]] = True
        joined_outcomes.append(prediction_outcomes[found[joined]])  # a prediction_id label wins
        joined_probabilities.append(probabilities[joined])
        if len(client_keys):
            clients, has_client = _column(table, CLIENT_KEY)
            labelled = has_client & (_lookup(client_keys, clients) >= 0)
            moments = table[MOMENT].fill_null(np.iinfo(np.int64).min).to_numpy()
            rows = np.flatnonzero(labelled)
            candidates.append((clients[rows], moments[rows], rows + position, probabilities[rows], joined[rows]))
        position += len(table)
    matched = int(used.sum())
    if candidates:
        clients, moments, positions, probabilities, by_prediction = (
            np.concatenate(part) for part in zip(*candidates, strict=True)
        )
        order = np.lexsort((positions, moments))  # an unreadable timestamp is the oldest; ties: the later row
        unique, first_from_end = np.unique(clients[order][::-1], return_index=True)
        latest = order[len(order) - 1 - first_from_end]
        matched += len(unique)
        own = ~by_prediction[latest]  # a row a prediction_id label joined keeps that label
        joined_outcomes.append(client_outcomes[_lookup(client_keys, unique)][own])
        joined_probabilities.append(probabilities[latest][own])
    count = len(prediction_keys) + len(client_keys)
    return JoinedOutcomes(
        cells=OutcomeCells.of(
            np.concatenate([np.zeros(0, dtype=bool), *joined_outcomes]),
            np.concatenate([np.zeros(0), *joined_probabilities]),
        ),
        labels=count,
        unmatched_labels=count - matched,
        unreadable_label_lines=unreadable,
    )
