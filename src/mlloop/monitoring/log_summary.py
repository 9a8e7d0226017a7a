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
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mlloop.config import ContractParams
from mlloop.core.schema import FeatureSchema
from mlloop.monitoring.log_window import champion_where_unnamed, count_contract, read_rows
from mlloop.monitoring.outcome_index import IndexBuilder
from mlloop.monitoring.summary_counts import CHALLENGER, PREDICTION, Bins, FileSummary, WindowTally
from mlloop.storage.line_blocks import blocks


def _floats(column: pd.Series) -> np.ndarray:
    return column.to_numpy(dtype=float, na_value=np.nan)


def _value_counts(column: pd.Series) -> dict[str, int]:
    counts = column.value_counts(sort=False, dropna=True)
    return {str(label): int(count) for label, count in counts.items() if count}


def add_rows(tally: WindowTally, frame: pd.DataFrame) -> None:
    """A block's readable rows, as log_window reads them (count_contract counts its lines and rows)."""
    for name, bins in tally.numeric.items():
        bins.add_values(_floats(frame[name]))
    for name, labels in tally.labels.items():
        labels.counts.update(_value_counts(frame[name]))
        labels.nulls += int(frame[name].isna().sum())
    probabilities = _floats(frame[PREDICTION])
    tally.probability.add_values(probabilities)
    variants = champion_where_unnamed(frame["variant"])
    for variant in variants.cat.categories:
        chosen = (variants == variant).to_numpy()
        if chosen.any():
            tally.variants[str(variant)] += int(chosen.sum())
            edges = tally.edges[PREDICTION]
            tally.variant_probability.setdefault(str(variant), Bins.empty(edges)).add_values(probabilities[chosen])
    tally.model_versions.update(_value_counts(frame["model_version"]))
    tally.challenger_versions.update(_value_counts(frame["challenger_version"]))
    tally.challenger_probability.add_values(_floats(frame[CHALLENGER]))
    moments = pd.to_datetime(frame["timestamp"], utc=True, errors="coerce", format="ISO8601")
    newest = moments.max()
    tally.later(None if pd.isna(newest) else newest.to_pydatetime())


def summarise_stream(
    stream: BinaryIO,
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
        add_rows(tally, rows.frame)
        index.add(rows.frame)
    return tally.summary(fingerprint, name, size, etag, day), None if index_writer else index.table()
