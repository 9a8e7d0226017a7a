"""Tables larger than memory, split on local disk by ranges of a 64-bit hashed key and read back a range at a time.

A join whose two sides are split alike finds every key's rows of both sides in the same range, so it can
be done range by range in the memory of one range. The keys are hashes (monitoring.outcome_index), spread
evenly, so their top bits cut them into ranges of about equal size. Batches are gathered into chunks of
`chunk_bytes`, and each chunk's rows are appended to their range's Arrow IPC stream as it is read: writing
holds a chunk, whatever the table's size (pyarrow's dataset writer, tried first, held more the larger the table).
"""

from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

KEY_BITS = 64
MAX_BITS = 9
"""At most 512 ranges, each an open file while a table is written (a process may open 1,024 files by default)."""


@dataclass(frozen=True)
class KeyRanges:
    """`2 ** bits` ranges of the key, each an Arrow stream per table under `directory`."""

    directory: Path
    bits: int
    chunk_bytes: int
    """What writing gathers before splitting: large enough pieces per range, in memory that does not grow."""

    @property
    def count(self) -> int:
        """How many ranges."""
        return 1 << self.bits

    def range_of(self, keys: np.ndarray) -> np.ndarray:
        """Each key's range: its top `bits` bits."""
        if not self.bits:
            return np.zeros(len(keys), dtype=np.int64)
        return (keys.astype(np.uint64) >> np.uint64(KEY_BITS - self.bits)).astype(np.int64)

    def _chunks(
        self, schema: pa.Schema, batches: Iterable[tuple[np.ndarray, pa.RecordBatch]]
    ) -> Iterator[tuple[np.ndarray, pa.Table]]:
        """The batches gathered into tables of about `chunk_bytes`, with their keys."""
        keys: list[np.ndarray] = []
        parts: list[pa.RecordBatch] = []
        size = 0
        for batch_keys, batch in batches:
            keys.append(batch_keys)
            parts.append(batch)
            size += batch.nbytes
            if size >= self.chunk_bytes:
                yield np.concatenate(keys), pa.Table.from_batches(parts, schema)
                keys, parts, size = [], [], 0
        if parts:
            yield np.concatenate(keys), pa.Table.from_batches(parts, schema)

    def write(self, table: str, schema: pa.Schema, batches: Iterable[tuple[np.ndarray, pa.RecordBatch]]) -> None:
        """Each batch's rows, in order, to the range of their key (given beside the batch, one per row)."""
        folder = self.directory / table
        folder.mkdir(parents=True)
        with ExitStack() as stack:
            writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
            for keys, chunk in self._chunks(schema, batches):
                ranges = self.range_of(keys)
                order = np.argsort(ranges, kind="stable")
                bounds = np.searchsorted(ranges[order], np.arange(self.count + 1))
                grouped = chunk.take(pa.array(order))
                del chunk, keys, ranges, order
                for key_range in np.flatnonzero(np.diff(bounds)).tolist():
                    if key_range not in writers:
                        writers[key_range] = stack.enter_context(
                            pa.ipc.new_stream(str(folder / f"{key_range}.arrow"), schema)
                        )
                    start = int(bounds[key_range])
                    writers[key_range].write_table(grouped.slice(start, int(bounds[key_range + 1]) - start))

    def read(self, table: str, key_range: int, schema: pa.Schema) -> pa.Table:
        """The rows of one range of a table, in the order they were written."""
        path = self.directory / table / f"{key_range}.arrow"
        if not path.exists():
            return schema.empty_table()
        return pa.ipc.open_stream(pa.memory_map(str(path))).read_all()
