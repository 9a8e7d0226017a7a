"""Delayed outcomes at scale: the join of monitoring.outcomes on hashed keys, from per-file indexes.

The realised metrics need each label joined to one row of the window (by prediction_id, or by client
id to the client's latest row), which no count can stand in for. So a log file's summary comes with
an outcome index: each row's prediction_id and client id as 64-bit hashes, its timestamp and its
probability, about 30 bytes a row against about 620 for its line. A labels file gets an index too:
each label's kind, hashed id and outcome, in file order. The window's join (monitoring.outcome_join) reads
only those indexes. Two ids sharing a hash would join the wrong row: at 10^8
rows, one chance in 10^4 of a single such row.
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mlloop.monitoring.outcome_join import INDEX_SCHEMA, LABEL_SCHEMA, UNREADABLE
from mlloop.monitoring.outcomes import LabelLines


def hash_ids(ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each id's 64-bit hash (pandas' SipHash, stable across processes and versions), and which ids are present."""
    present = ids.notna().to_numpy()
    keys = np.zeros(len(ids), dtype=np.uint64)
    if present.any():
        # Not factorized first: prediction ids are all distinct, and the same hash of each costs a fifth.
        keys[present] = pd.util.hash_array(ids[present].astype(str).to_numpy(dtype=object), categorize=False)
    return keys, present


@dataclass
class IndexBuilder:
    """A log file's outcome index, added block by block (lines before prediction ids numbered across blocks)."""

    writer: pq.ParquetWriter | None = None
    """Where each block's index goes as it is read (summarize stores it): a file's index never sits in memory."""
    parts: list[pa.Table] = field(default_factory=list)
    """Each block's index, kept when there is no writer (the check, which joins them at once)."""
    request: tuple[str, int] | None = None
    """The last request of the previous block whose lines had no prediction_id, and how many it had."""

    def add(self, frame: pd.DataFrame) -> None:
        """A block's readable rows. A line without a prediction_id gets the one monitoring.outcomes gives it,
        its position among its request's lines: a request's lines are written together, so only the
        block's first request can have begun in the block before.
        """
        ids = frame["prediction_id"].astype("str")
        older = ids.isna() & frame["request_id"].notna()
        self_request, self.request = self.request, None
        if older.any():
            requests = frame.loc[older, "request_id"].astype("str")
            positions = requests.groupby(requests, sort=False).cumcount()
            if self_request is not None:
                positions[requests == self_request[0]] += self_request[1]
            ids = ids.mask(older, requests + "-" + positions.astype("str"))
            last = requests.iloc[-1]
            self.request = (last, int(positions[requests == last].max()) + 1)
        prediction, has_prediction = hash_ids(ids)
        client, has_client = hash_ids(frame["client_id"])
        moments = pd.to_datetime(frame["timestamp"], utc=True, errors="coerce", format="ISO8601")
        table = pa.table(
            [
                pa.array(prediction, pa.uint64(), mask=~has_prediction),
                pa.array(client, pa.uint64(), mask=~has_client),
                pa.array(moments.to_numpy(dtype="datetime64[ns]").astype(np.int64), mask=moments.isna().to_numpy()),
                pa.array(frame["churn_probability"].to_numpy(dtype=float)),
            ],
            schema=INDEX_SCHEMA,
        )
        if self.writer is not None:
            self.writer.write_table(table)
        else:
            self.parts.append(table)

    def table(self) -> pa.Table:
        """The file's index, one row per readable line, in file order."""
        return pa.concat_tables(self.parts) if self.parts else INDEX_SCHEMA.empty_table()


def label_index(lines: LabelLines) -> pa.Table:
    """A labels file's index: each usable label's kind, hashed id and outcome, in file order."""
    by_prediction = pa.chunked_array(lines.row_ids, pa.string()).to_pandas()
    by_client = pa.chunked_array(lines.client_ids, pa.string()).to_pandas()
    keys = np.concatenate([hash_ids(by_prediction)[0], hash_ids(by_client)[0]])
    outcomes = np.concatenate(
        [
            pa.chunked_array(lines.row_outcomes, pa.bool_()).to_numpy(),
            pa.chunked_array(lines.client_outcomes, pa.bool_()).to_numpy(),
        ]
    ).astype(bool)
    kinds = np.concatenate([np.ones(len(by_prediction), dtype=bool), np.zeros(len(by_client), dtype=bool)])
    table = pa.table([pa.array(kinds), pa.array(keys, pa.uint64()), pa.array(outcomes)], schema=LABEL_SCHEMA)
    return table.replace_schema_metadata({UNREADABLE: str(lines.unreadable).encode()})
