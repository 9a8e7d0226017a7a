"""One inference-log file, summarised: everything the drift check needs of its lines, in counts that merge.

A file is read once, in blocks of whole lines (`drift.summaries.block_mib`), each held to the schema by
log_window's own reader and contract counting, so a summary counts exactly what `--exact` counts, in
memory that does not grow with the file. It keeps (monitoring.summary_counts):
- per numeric feature and for the probability: the count and sum of values in each fine bin drawn
  from the reference (core.binned_scores), the nulls, the lowest and highest value;
- per categorical feature: the count of every label, unknown ones included, and the nulls;
- the lines, the rows, the newest timestamp (for `stale`), model versions and variants with their
  rows, each variant's probability and a shadow challenger's, in the same bins;
- every rule of the contract broken, with its count, its values and its first example lines (at most
  `drift.contract.examples`, as the check quotes them);
- the outcome index (monitoring.outcome_index): each row's join keys and probability, for `degraded`.
"""

from collections.abc import Mapping
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mlloop.config import ContractParams
from mlloop.core.schema import FeatureSchema
from mlloop.monitoring.log_window import CHAMPION, count_contract, read_rows
from mlloop.monitoring.outcome_index import IndexBuilder
from mlloop.monitoring.summary_counts import CHALLENGER, PREDICTION, Bins, FileSummary, WindowTally
from mlloop.storage.line_blocks import Readable, blocks

INDEXED = ["prediction_id", "request_id", "client_id", "timestamp", PREDICTION]
"""The columns the outcome index reads: the only ones turned into pandas."""


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=float)


def _value_counts(column: pa.ChunkedArray) -> dict[str, int]:
    counted = pc.value_counts(column)
    labels, counts = counted.field("values").to_pylist(), counted.field("counts").to_pylist()
    return {label: count for label, count in zip(labels, counts, strict=True) if label is not None}


def add_rows(tally: WindowTally, rows: pa.Table, moments: pd.Series) -> None:
    """A block's readable rows, as log_window reads them (count_contract counts its lines and rows), and their
    timestamps as parsed for the outcome index.
    """
    for name, bins in tally.numeric.items():
        bins.add_values(_floats(rows[name]))
    for name, labels in tally.labels.items():
        labels.counts.update(_value_counts(rows[name]))
        labels.nulls += rows[name].null_count
    probabilities = _floats(rows[PREDICTION])
    tally.probability.add_values(probabilities)
    variants = pc.fill_null(rows["variant"], CHAMPION)  # log_window.champion_where_unnamed
    for variant, count in _value_counts(variants).items():
        chosen = pc.equal(variants, variant).to_numpy(zero_copy_only=False)
        tally.variants[variant] += count
        edges = tally.edges[PREDICTION]
        tally.variant_probability.setdefault(variant, Bins.empty(edges)).add_values(probabilities[chosen])
    tally.model_versions.update(_value_counts(rows["model_version"]))
    tally.challenger_versions.update(_value_counts(rows["challenger_version"]))
    tally.challenger_probability.add_values(_floats(rows[CHALLENGER]))
    newest = moments.max()
    tally.later(None if pd.isna(newest) else newest.to_pydatetime())


def summarise_stream(
    stream: Readable,
    name: str,
    size: int,
    etag: str | None,
    day: date,
    fingerprint: str,
    edges: Mapping[str, np.ndarray],
    schema: FeatureSchema,
    contract: ContractParams,
    block_bytes: int,
    index_writer: pq.ParquetWriter | None = None,
) -> tuple[FileSummary, pa.Table | None]:
    """Read a log file block by block into its summary and its outcome index: written block by block to
    `index_writer`, or returned.
    """
    tally = WindowTally(edges, list(schema.categorical_features), contract.examples)
    index = IndexBuilder(index_writer)
    for block, first_line in blocks(stream, block_bytes):
        rows = read_rows(block, schema)
        count_contract(tally.contract, name, block, rows, schema, contract, first_line)
        indexed = rows.table.select(INDEXED).to_pandas()
        # Parsed once, for the newest line and the outcome index (which leaves parsed timestamps as they are).
        indexed["timestamp"] = pd.to_datetime(indexed["timestamp"], utc=True, errors="coerce", format="ISO8601")
        add_rows(tally, rows.table, indexed["timestamp"])
        index.add(indexed)
    return tally.summary(fingerprint, name, size, etag, day), None if index_writer else index.table()
