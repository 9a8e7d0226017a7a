"""The window's join of delayed labels to its rows, on the hashed keys of the outcome indexes.

monitoring.outcomes' rules, on monitoring.outcome_index's per-file indexes: a later label for an id
replaces an earlier one; a client's label joins the client's latest row of the window (an unreadable
timestamp is the oldest; of two rows at one moment, the later in the window); a prediction_id label
joins its row and wins over a client's. What the realised metrics need is kept: each distinct
(outcome, probability) with its count (outcome_cells), and the counts the report shows. numpy and
pyarrow only: the check that reads stored summaries never needs pandas.

Its memory is a budget (`drift.summaries.join_mib`), whatever the labels' count: the labels and the
rows are first written to a temporary folder split by ranges of their hashed keys (monitoring.key_ranges),
as many ranges as the budget needs, and joined a range at a time. A key's labels and rows fall in one
range, so each range's join is the whole join's for its keys and the results add up: cells merge,
counts sum. A client's rows fall in the range of its client key, not of their prediction_ids, so the
join runs twice: by prediction_id over the ranges of prediction keys, which also writes each row of a
client, marked when a prediction_id label joined it, to the range of its client key; then by client id.
Each range keeps the order its rows were written in, so of a key's labels the last is the latest.
"""

import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from mlloop.monitoring.key_ranges import MAX_BITS, KeyRanges
from mlloop.monitoring.outcome_cells import NO_CELLS, OutcomeCells

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
POSITION = "position"
"""A row's place in the window's files, in order: of a client's rows at one moment, the later joins."""
JOINED = "joined"
"""Whether a prediction_id label joined the row (then a client's label cannot take it)."""
_ROWS = pa.schema([INDEX_SCHEMA.field(PREDICTION_KEY), INDEX_SCHEMA.field(PROBABILITY)])
_ROWS_WITH_CLIENTS = pa.schema([*INDEX_SCHEMA, pa.field(POSITION, pa.int64())])
_CLIENT_ROWS = pa.schema(
    [
        INDEX_SCHEMA.field(CLIENT_KEY),
        INDEX_SCHEMA.field(MOMENT),
        pa.field(POSITION, pa.int64()),
        INDEX_SCHEMA.field(PROBABILITY),
        pa.field(JOINED, pa.bool_()),
    ]
)
LABEL_BYTES = 48
"""A label's share of memory while its range is joined (its key and outcome, the sort keeping the latest), measured
on 2 to 16 million labels and rows, with the chunks writing takes beside (a sixteenth of the budget)."""
ROW_BYTES = 128
"""A row's share of memory while its range is joined (its keys, moment, place and probability, their lookups)."""


@dataclass(frozen=True)
class IndexSource:
    """A file's outcome index as the join reads it: its length, and its batches, read when the join gets to them."""

    rows: int
    batches: Callable[[], Iterator[pa.RecordBatch]]
    unreadable: int = 0
    """A labels index's label lines of no usable shape."""

    @classmethod
    def of(cls, table: pa.Table) -> "IndexSource":
        """An index already in memory."""
        unreadable = int((table.schema.metadata or {}).get(UNREADABLE, b"0"))
        return cls(table.num_rows, lambda: iter(table.to_batches()), unreadable)


def ranges_for(labels: int, rows: int, memory_bytes: int) -> int:
    """How many bits of the key split the join into ranges that each fit in `memory_bytes` (up to MAX_BITS)."""
    ranges = -(-(labels * LABEL_BYTES + rows * ROW_BYTES) // memory_bytes)
    return min(max(ranges - 1, 0).bit_length(), MAX_BITS)


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


def _column(table: pa.Table | pa.RecordBatch, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A nullable integer column's values (0 where null) and which are present."""
    column = table[name]
    present = column.is_valid().to_numpy(zero_copy_only=False)
    return column.fill_null(0).to_numpy(), present


def _flags(table: pa.Table | pa.RecordBatch, name: str) -> np.ndarray:
    """A boolean column as numpy booleans."""
    return np.asarray(table[name].to_numpy(zero_copy_only=False), dtype=bool)


@dataclass
class _Tally:
    """The join's results so far, range by range."""

    cells: OutcomeCells = NO_CELLS
    labels: int = 0
    matched: int = 0
    client_labels: int = 0
    """Labels by client id written to the ranges."""

    def add(self, outcomes: np.ndarray, probabilities: np.ndarray) -> None:
        """A range's joined rows, kept as cells."""
        self.cells = OutcomeCells.merged([self.cells, OutcomeCells.of(outcomes, probabilities)])


def _labels(sources: Sequence[IndexSource], tally: _Tally) -> Iterator[tuple[np.ndarray, pa.RecordBatch]]:
    """The labels files' batches, in the order they were written, counting the labels by client id."""
    for source in sources:
        for batch in source.batches():
            tally.client_labels += len(batch) - int(np.count_nonzero(_flags(batch, LABEL_KIND)))
            yield batch[LABEL_KEY].to_numpy(), batch.select(LABEL_SCHEMA.names).cast(LABEL_SCHEMA)


def _rows(sources: Sequence[IndexSource], with_clients: bool) -> Iterator[tuple[np.ndarray, pa.RecordBatch]]:
    """The rows either join needs, to the range of their prediction key (of their client key where they have none)."""
    position = 0
    for source in sources:
        for batch in source.batches():
            predictions, has_prediction = _column(batch, PREDICTION_KEY)
            if not with_clients:
                yield predictions[has_prediction], batch.select(_ROWS.names).filter(has_prediction)
                continue
            clients, has_client = _column(batch, CLIENT_KEY)
            places = pa.array(np.arange(position, position + len(batch), dtype=np.int64))
            position += len(batch)
            either = has_prediction | has_client
            rows = pa.RecordBatch.from_arrays(
                [*batch.select(INDEX_SCHEMA.names).columns, places], schema=_ROWS_WITH_CLIENTS
            )
            yield np.where(has_prediction, predictions, clients)[either], rows.filter(either)


def _join_by_prediction(
    ranges: KeyRanges, with_clients: bool, tally: _Tally
) -> Iterator[tuple[np.ndarray, pa.RecordBatch]]:
    """Join each range's prediction_id labels to its rows; hand back every row of a client, marked if joined."""
    for key_range in range(ranges.count):
        labels = ranges.read("labels", key_range, LABEL_SCHEMA)
        kinds = _flags(labels, LABEL_KIND)
        keys, outcomes = _latest(labels[LABEL_KEY].to_numpy()[kinds], _flags(labels, LABEL_OUTCOME)[kinds])
        del labels, kinds
        rows = ranges.read("rows", key_range, _ROWS_WITH_CLIENTS if with_clients else _ROWS)
        predictions, has_prediction = _column(rows, PREDICTION_KEY)
        probabilities = rows[PROBABILITY].to_numpy()
        found = np.where(has_prediction, _lookup(keys, predictions), -1)
        joined = found >= 0
        used = np.zeros(len(keys), dtype=bool)
        used[found[joined]] = True
        tally.labels += len(keys)
        tally.matched += int(used.sum())
        tally.add(outcomes[found[joined]], probabilities[joined])  # a prediction_id label wins
        if with_clients:
            clients, has_client = _column(rows, CLIENT_KEY)
            moments = rows[MOMENT].fill_null(np.iinfo(np.int64).min)  # an unreadable timestamp is the oldest
            columns = [clients, moments, rows[POSITION], probabilities, joined]
            client_rows = pa.table([pa.array(column) for column in columns], schema=_CLIENT_ROWS).filter(has_client)
            for batch in client_rows.to_batches():
                yield batch[CLIENT_KEY].to_numpy(), batch


def _join_by_client(ranges: KeyRanges, tally: _Tally) -> None:
    """Join each range's client labels to their client's latest row, unless a prediction_id label took it."""
    for key_range in range(ranges.count):
        labels = ranges.read("labels", key_range, LABEL_SCHEMA)
        by_client = ~_flags(labels, LABEL_KIND)
        keys, outcomes = _latest(labels[LABEL_KEY].to_numpy()[by_client], _flags(labels, LABEL_OUTCOME)[by_client])
        del labels, by_client
        tally.labels += len(keys)
        if not len(keys):
            continue
        rows = ranges.read("client_rows", key_range, _CLIENT_ROWS)
        clients = rows[CLIENT_KEY].to_numpy()
        labelled = _lookup(keys, clients) >= 0
        clients, moments, positions = (
            clients[labelled],
            rows[MOMENT].to_numpy()[labelled],
            rows[POSITION].to_numpy()[labelled],
        )
        probabilities, by_prediction = rows[PROBABILITY].to_numpy()[labelled], _flags(rows, JOINED)[labelled]
        del rows
        order = np.lexsort((positions, moments))  # ties: the later row
        unique, first_from_end = np.unique(clients[order][::-1], return_index=True)
        latest = order[len(order) - 1 - first_from_end]
        tally.matched += len(unique)
        own = ~by_prediction[latest]  # a row a prediction_id label joined keeps that label
        tally.add(outcomes[_lookup(keys, unique)][own], probabilities[latest][own])


def join_window(
    indexes: Sequence[IndexSource], label_indexes: Sequence[IndexSource], memory_bytes: int
) -> JoinedOutcomes:
    """monitoring.outcomes.join_outcomes, on the window's file indexes (in window order) and its labels' indexes
    (in the order they were written), in about `memory_bytes` however many labels and rows there are.
    """
    labels = sum(source.rows for source in label_indexes)
    bits = ranges_for(labels, sum(source.rows for source in indexes), memory_bytes)
    tally = _Tally()
    with tempfile.TemporaryDirectory(prefix="mlloop-join-") as directory:
        ranges = KeyRanges(Path(directory), bits, chunk_bytes=memory_bytes // 16)
        ranges.write("labels", LABEL_SCHEMA, _labels(label_indexes, tally))
        with_clients = tally.client_labels > 0
        ranges.write("rows", _ROWS_WITH_CLIENTS if with_clients else _ROWS, _rows(indexes, with_clients))
        ranges.write("client_rows", _CLIENT_ROWS, _join_by_prediction(ranges, with_clients, tally))
        if with_clients:
            _join_by_client(ranges, tally)
    return JoinedOutcomes(
        cells=tally.cells,
        labels=tally.labels,
        unmatched_labels=tally.labels - tally.matched,
        unreadable_label_lines=sum(source.unreadable for source in label_indexes),
    )
