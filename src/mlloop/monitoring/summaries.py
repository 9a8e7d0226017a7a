"""Per-file summaries of the inference log, kept beside it, and the window the check merges from them.

Each log file is summarised once (monitoring.log_summary) into `<root>/<folder>/<fingerprint>/`, under
its own path below the root, keyed by its size and, where the store gives one, its ETag: an append to
today's file changes its size, so only that file is read again. The fingerprint hashes what the counts
depend on besides the file (the reference and the predictions it was scored against, the schema, the
bins and the quoting settings, the format), so a new model or training split starts a new folder and
the old summaries are never mixed in. A labels file gets an index of its own (monitoring.outcome_index),
and the window's join of the two, its outcome cells, is kept too, keyed by every file it read.

`summarize` (`mlloop summarize`, for a cron or a CronJob) computes and stores what the check ending
today needs, a process per file (`drift.summaries.workers`); `read_window_summaries` (`mlloop drift`)
reads them and computes, in memory, any that are missing or stale, writing nothing: the check only
needs to read the log's store.
"""

import hashlib
import io
import json
import posixpath
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import BinaryIO, TypeVar

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from botocore.exceptions import BotoCoreError
from pydantic import ValidationError

from mlloop.config import DriftParams, Params
from mlloop.core.binned_scores import fine_edges
from mlloop.core.schema import FeatureSchema, load_schema
from mlloop.errors import RemoteError, SourceError
from mlloop.monitoring.label_files import LABELS_FILES, LABELS_FOLDER
from mlloop.monitoring.outcome_cells import OutcomeCells
from mlloop.monitoring.outcome_join import (
    INDEX_SCHEMA,
    LABEL_SCHEMA,
    UNREADABLE,
    IndexSource,
    JoinedOutcomes,
    join_window,
)
from mlloop.monitoring.summary_counts import FORMAT, PREDICTION, FileSummary, WindowTally
from mlloop.serving.inference_log import day_of_log_file
from mlloop.storage.files import atomic_outputs, require, sha256_of
from mlloop.storage.line_blocks import blocks
from mlloop.storage.store_errors import diagnose

VERSION = b"version"
"""An index's metadata key: the version (ETag or size) of the file it was read from."""
OUTCOME_KEY = b"key"
OUTCOME_COUNTS = b"counts"


@dataclass(frozen=True)
class Reference:
    """The reference side of every score, read once: each numeric column's sorted values and null share, each
    categorical column's label counts and null share, and the fine bins' edges (core.binned_scores).
    """

    values: dict[str, np.ndarray]
    """Non-null values, sorted, per numeric feature and PREDICTION (the held-out probabilities)."""
    null_shares: dict[str, float]
    labels: dict[str, dict[str, int]]
    edges: dict[str, np.ndarray]
    fingerprint: str
    rows: int
    """The reference table's rows."""


def _numpy(column: pa.ChunkedArray) -> np.ndarray:
    """A column without nulls as numpy, through DLPack: pyarrow's to_numpy goes through its conversion to pandas,
    whose import would cost the check's start a third of a second.
    """
    if pa.types.is_boolean(column.type):  # DLPack holds no bit-packed booleans
        return np.from_dlpack(pc.cast(column, pa.uint8()).combine_chunks()).astype(bool)
    return np.from_dlpack(column.combine_chunks())


def _numbers(column: pa.ChunkedArray) -> tuple[np.ndarray, float]:
    values = _numpy(pc.cast(column.drop_null(), pa.float64()))
    present = values[~np.isnan(values)]
    return np.sort(present), (1 - len(present) / len(column)) if len(column) else 0.0


def _parquet(path: Path, columns: list[str], produced_by: str) -> pa.Table:
    """Columns of a table an earlier stage wrote; an unreadable one is a SourceError naming it and the stage."""
    try:
        return pq.ParquetFile(path).read(columns=columns)
    except (OSError, ValueError, KeyError) as error:
        raise SourceError(f"{path}: cannot be read ({error}); re-run '{produced_by}'") from error


def read_reference(
    reference_path: Path, reference_sha256: str, predictions_path: Path, schema: FeatureSchema, drift: DriftParams
) -> Reference:
    """The reference's columns and the held-out probabilities, read by pyarrow alone: the check must start quickly."""
    table = _parquet(reference_path, schema.feature_names, "split")
    values, null_shares, labels = {}, {}, {}
    for name in schema.numeric_features:
        values[name], null_shares[name] = _numbers(table[name])
    for name in schema.categorical_features:
        column = table[name]
        null_shares[name] = column.null_count / len(column) if len(column) else 0.0
        counted = pc.value_counts(column.drop_null())
        labels[name] = {
            str(label): int(count)
            for label, count in zip(
                counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True
            )
        }
    values[PREDICTION], null_shares[PREDICTION] = _numbers(
        _parquet(predictions_path, [PREDICTION], "evaluate")[PREDICTION]
    )
    settings = drift.summaries
    edges = {name: fine_edges(column, settings.bins, drift.psi_bins) for name, column in values.items() if len(column)}
    identity = {
        "format": FORMAT,
        "reference": reference_sha256,
        "predictions": hashlib.sha256(predictions_path.read_bytes()).hexdigest(),
        "schema": schema.model_dump(mode="json"),
        "bins": settings.bins,
        "psi_bins": drift.psi_bins,
        "examples": drift.contract.examples,
        "example_chars": drift.contract.example_chars,
    }
    fingerprint = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    return Reference(values, null_shares, labels, edges, fingerprint, table.num_rows)


@dataclass(frozen=True)
class StoredFile:
    """A file of the log's store as listed: its path, size and ETag (None where the store gives none)."""

    name: str
    size: int
    etag: str | None

    @property
    def version(self) -> str:
        """What says the file changed: its ETag, or its size (the log is only ever appended to)."""
        return self.etag or str(self.size)


@dataclass(frozen=True)
class LogListing:
    """Every day file of the log (by day, in name order), every labels file, and where summaries go."""

    filesystem: fsspec.AbstractFileSystem
    root: str
    by_day: dict[date, list[StoredFile]]
    labels: list[StoredFile]


def _stored(name: str, info: dict[str, object]) -> StoredFile:
    etag = info.get("ETag") or info.get("etag")
    size = info.get("size")
    return StoredFile(name, int(size) if isinstance(size, int) else 0, str(etag).strip('"') if etag else None)


def list_log(source: str, folder: str, today: date) -> LogListing:
    """The log's day files up to `today` and its labels files, with their sizes and ETags, in one listing."""
    try:
        filesystem, root = fsspec.core.url_to_fs(source)
        root = root.rstrip("/")
        found = filesystem.find(root, detail=True) if filesystem.exists(root) else {}
    except (OSError, BotoCoreError) as error:
        reason = diagnose(source, str(error)) or f"{source}: {error}"
        raise SourceError(f"cannot list the inference log: {reason}") from error
    summaries = f"{root}/{folder}/"
    by_day: dict[date, list[StoredFile]] = {}
    labels = []
    for name in sorted(found):
        if name.startswith(summaries):
            continue
        if (day := day_of_log_file(name)) is not None and day <= today:
            by_day.setdefault(day, []).append(_stored(name, found[name]))
        elif posixpath.dirname(name) == f"{root}/{LABELS_FOLDER}" and LABELS_FILES.day_of(name) is not None:
            labels.append(_stored(name, found[name]))
    return LogListing(filesystem, root, by_day, labels)


def _protocols(filesystem: fsspec.AbstractFileSystem) -> tuple[str, ...]:
    protocols = filesystem.protocol
    return (protocols,) if isinstance(protocols, str) else tuple(protocols)


@dataclass(frozen=True)
class Store:
    """Where a log's summaries of one fingerprint live, beside the log."""

    filesystem: fsspec.AbstractFileSystem
    root: str
    folder: str
    fingerprint: str

    @property
    def directory(self) -> str:
        """The folder of this fingerprint's summaries."""
        return f"{self.root}/{self.folder}/{self.fingerprint}"

    def summary_path(self, file: StoredFile) -> str:
        """A log file's summary: its path below the root, under the fingerprint's folder."""
        return f"{self.directory}/{posixpath.relpath(file.name, self.root)}.summary.json"

    def index_path(self, file: StoredFile) -> str:
        """A log or labels file's outcome index, beside its summary."""
        return f"{self.directory}/{posixpath.relpath(file.name, self.root)}.outcomes.parquet"

    def outcomes_path(self, end: date, days: int) -> str:
        """The outcome cells of the window of `days` days ending `end`."""
        return f"{self.directory}/window-{end.isoformat()}-{days}d.outcomes.parquet"

    def _on_disk(self) -> bool:
        return "file" in _protocols(self.filesystem)

    def write(self, path: str, data: bytes) -> None:
        """One summary file: atomically on a disk, as one PUT on an object store (which is atomic)."""
        try:
            if self._on_disk():
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                with atomic_outputs(Path(path)) as (temporary,):
                    temporary.write_bytes(data)
            else:
                self.filesystem.pipe_file(path, data)
        except (OSError, BotoCoreError) as error:
            raise RemoteError(diagnose(path, str(error)) or f"cannot write the summary {path}: {error}") from error

    @contextmanager
    def opened(self, path: str) -> Iterator[BinaryIO]:
        """A summary file written as a stream: to a temporary renamed on success on a disk, as one multipart
        upload (which appears whole or not at all) on an object store.
        """
        try:
            if self._on_disk():
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                with atomic_outputs(Path(path)) as (temporary,), temporary.open("wb") as stream:
                    yield stream
            else:
                with self.filesystem.open(path, "wb") as stream:
                    yield stream
        except (OSError, BotoCoreError) as error:
            raise RemoteError(diagnose(path, str(error)) or f"cannot write the summary {path}: {error}") from error

    def read(self, path: str) -> bytes | None:
        """A summary file's bytes; None when there is none."""
        try:
            with self.reading(path) as stream:
                data: bytes = stream.read()
        except FileNotFoundError:
            return None
        return data

    @contextmanager
    def reading(self, path: str) -> Iterator[BinaryIO]:
        """A summary file opened to read; an error of the store is a SourceError naming it (a missing file is not)."""
        try:
            with self.filesystem.open(path, "rb") as stream:
                yield stream
        except FileNotFoundError:
            raise
        except (OSError, BotoCoreError) as error:
            raise SourceError(diagnose(path, str(error)) or f"cannot read the summary {path}: {error}") from error

    def index(self, path: str, version: str) -> IndexSource | None:
        """A stored outcome index of this version of its file, read batch by batch when the join gets to it; None
        when there is none or it is of another version. Only its footer is read now.
        """
        try:
            with self.reading(path) as stream:
                footer = pq.ParquetFile(stream).metadata
        except FileNotFoundError:
            return None
        pairs = footer.metadata or {}
        if pairs.get(VERSION, b"").decode() != version:
            return None
        return IndexSource(footer.num_rows, lambda: self._batches(path), int(pairs.get(UNREADABLE, b"0")))

    def _batches(self, path: str) -> Iterator[pa.RecordBatch]:
        """A stored index, a row group at a time (`iter_batches` buffers the whole file first)."""
        with self.reading(path) as stream:
            stored = pq.ParquetFile(stream)
            for group in range(stored.num_row_groups):
                yield from stored.read_row_group(group).to_batches()


def _table_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _read_table(data: bytes) -> pa.Table:
    return pq.ParquetFile(pa.BufferReader(data)).read()


@dataclass(frozen=True)
class _Task:
    """One log file to summarise, with everything a worker process needs."""

    store: Store
    file: StoredFile
    day: date
    edges: dict[str, np.ndarray]
    schema: FeatureSchema
    drift: DriftParams
    keep: bool
    """Write the summary and its index to the store (summarize), or hand them back (the check)."""


def _summarise(task: _Task) -> tuple[FileSummary, pa.Table | None]:
    """Read one log file into its summary and outcome index; store them (and hand back the summary), or return both."""
    from mlloop.monitoring.log_summary import summarise_stream  # pandas and the JSON reader: only to read lines

    arguments = (
        task.file.name,
        task.file.size,
        task.file.etag,
        task.day,
        task.store.fingerprint,
        task.edges,
        task.schema,
        task.drift.contract,
        task.drift.summaries.block_mib << 20,
    )
    with task.store.filesystem.open(task.file.name, "rb") as stream:
        if not task.keep:
            return summarise_stream(stream, *arguments)
        schema = INDEX_SCHEMA.with_metadata({VERSION: task.file.version.encode()})
        with (
            task.store.opened(task.store.index_path(task.file)) as sink,
            pq.ParquetWriter(sink, schema, compression="zstd") as writer,
        ):
            summary, _ = summarise_stream(stream, *arguments, index_writer=writer)
    task.store.write(task.store.summary_path(task.file), summary.model_dump_json().encode())
    return summary, None


def _versioned(table: pa.Table, file: StoredFile) -> pa.Table:
    """An index marked with the version of the file it was read from."""
    return table.replace_schema_metadata({**(table.schema.metadata or {}), VERSION: file.version.encode()})


@dataclass(frozen=True)
class _LabelTask:
    store: Store
    file: StoredFile
    block_bytes: int
    keep: bool


def _index_labels(task: _LabelTask) -> pa.Table | None:
    """A labels file's index, read in blocks: streamed to the store block by block (summarize), or returned (the
    check).
    """
    from mlloop.monitoring.outcome_index import label_index
    from mlloop.monitoring.outcomes import LabelLines

    parts = []
    unreadable = 0
    with ExitStack() as stack:
        stream = stack.enter_context(task.store.filesystem.open(task.file.name, "rb"))
        writer = None
        if task.keep:
            sink = stack.enter_context(task.store.opened(task.store.index_path(task.file)))
            schema = LABEL_SCHEMA.with_metadata({VERSION: task.file.version.encode()})
            writer = stack.enter_context(pq.ParquetWriter(sink, schema, compression="zstd"))
        for block, _ in blocks(stream, task.block_bytes):
            lines = LabelLines()  # hashed block by block: only the keys of a block stay in memory
            lines.add(block)
            unreadable += lines.unreadable
            index = label_index(lines).replace_schema_metadata(None)
            if writer is not None:
                writer.write_table(index)
            else:
                parts.append(index)
        if writer is not None:
            writer.add_key_value_metadata({UNREADABLE: str(unreadable).encode()})
            return None
    table = pa.concat_tables(parts) if parts else LABEL_SCHEMA.empty_table()
    return _versioned(table.replace_schema_metadata({UNREADABLE: str(unreadable).encode()}), task.file)


Task = TypeVar("Task")
Result = TypeVar("Result")


def _pool_map(function: Callable[[Task], Result], tasks: Sequence[Task], workers: int, store: Store) -> list[Result]:
    """Each task's result in order: in `workers` processes, or in this one for one task, one worker, or a store
    in this process's memory (fsspec's memory://, which another process cannot see).
    """
    if workers == 1 or len(tasks) <= 1 or "memory" in _protocols(store.filesystem):
        return [function(task) for task in tasks]
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
        return list(pool.map(function, tasks))


def _valid_summary(data: bytes | None, file: StoredFile, fingerprint: str) -> FileSummary | None:
    """The stored summary, if it is of this version of the file and of these bins; None otherwise."""
    if data is None:
        return None
    try:
        summary = FileSummary.model_validate_json(data)
    except ValidationError:
        return None  # another format: computed again
    current = (FORMAT, fingerprint, file.size, file.etag)
    return summary if (summary.format, summary.fingerprint, summary.size, summary.etag) == current else None


@dataclass(frozen=True)
class WindowSummaries:
    """The window's files merged, what the check reads instead of their lines, and how much had to be read."""

    tally: WindowTally
    start: date
    end: date
    first_day: date | None
    last_day: date | None
    last_seen: datetime | None
    files: list[str]
    outcomes: JoinedOutcomes | None
    """The join of the window's delayed labels; None when no label was written since its first day."""
    read_files: int
    """Files whose lines were read for this check (their summaries were missing or stale)."""


def _file_index(
    store: Store, file: StoredFile, reference: Reference, schema: FeatureSchema, drift: DriftParams
) -> IndexSource:
    """A log file's stored outcome index; read from its lines again when it is missing or of another version."""
    stored = store.index(store.index_path(file), file.version)
    if stored is not None:
        return stored
    day = day_of_log_file(file.name) or date.min
    _, index = _summarise(_Task(store, file, day, reference.edges, schema, drift, keep=False))
    assert index is not None
    return IndexSource.of(index)


def _label_indexes(store: Store, files: list[StoredFile], drift: DriftParams, keep: bool) -> list[IndexSource]:
    """Each labels file's index, from the store when it is of this version of the file, read (and stored when
    `keep`) otherwise.
    """
    indexes: dict[str, IndexSource] = {}
    missing = []
    for file in files:
        if (stored := store.index(store.index_path(file), file.version)) is not None:
            indexes[file.name] = stored
        else:
            missing.append(file)
    tasks = [_LabelTask(store, file, drift.summaries.block_mib << 20, keep) for file in missing]
    for file, table in zip(missing, _pool_map(_index_labels, tasks, drift.summaries.workers, store), strict=True):
        written = IndexSource.of(table) if table is not None else store.index(store.index_path(file), file.version)
        if written is None:
            raise RemoteError(f"{store.index_path(file)}: the labels index just stored cannot be read back")
        indexes[file.name] = written
    return [indexes[file.name] for file in files]


def _outcome_key(store: Store, start: date, end: date, files: list[StoredFile], labels: list[StoredFile]) -> str:
    """What a window's outcome cells depend on: every file it joined, each at its version."""
    identity = [store.fingerprint, start.isoformat(), end.isoformat()]
    identity += [f"{file.name}@{file.version}" for file in [*files, *labels]]
    return hashlib.sha256("\n".join(identity).encode()).hexdigest()


def _cells_table(joined: JoinedOutcomes, key: str) -> pa.Table:
    cells = joined.cells
    table = pa.table({"outcome": cells.outcomes, "probability": cells.probabilities, "count": cells.counts})
    counts = [joined.labels, joined.unmatched_labels, joined.unreadable_label_lines]
    return table.replace_schema_metadata({OUTCOME_KEY: key.encode(), OUTCOME_COUNTS: json.dumps(counts).encode()})


def _stored_outcomes(data: bytes | None, key: str) -> JoinedOutcomes | None:
    if data is None:
        return None
    table = _read_table(data)
    metadata = table.schema.metadata or {}
    if metadata.get(OUTCOME_KEY) != key.encode():
        return None
    labels, unmatched, unreadable = json.loads(metadata[OUTCOME_COUNTS])
    cells = OutcomeCells(_numpy(table["outcome"]), _numpy(table["probability"]), _numpy(table["count"]))
    return JoinedOutcomes(cells, labels, unmatched, unreadable)


def _needed(listing: LogListing, start: date, window: list[tuple[date, StoredFile]]) -> list[tuple[date, StoredFile]]:
    """The window's files, and the newest day's when it is older than the window (its newest line says `stale`)."""
    newest = max(listing.by_day, default=None)
    return window + ([(newest, file) for file in listing.by_day[newest]] if newest and newest < start else [])


def _summaries(
    store: Store,
    needed: list[tuple[date, StoredFile]],
    reference: Reference,
    schema: FeatureSchema,
    drift: DriftParams,
    keep: bool,
) -> tuple[dict[str, FileSummary], dict[str, pa.Table], int]:
    """Each file's summary, stored or computed now (a process per file), the indexes computed and not stored, and
    how many files were read.
    """
    summaries: dict[str, FileSummary] = {}
    indexes: dict[str, pa.Table] = {}
    tasks = []
    for day, file in needed:
        if (summary := _valid_summary(store.read(store.summary_path(file)), file, store.fingerprint)) is not None:
            summaries[file.name] = summary
        else:
            tasks.append(_Task(store, file, day, reference.edges, schema, drift, keep))
    for task, (summary, index) in zip(tasks, _pool_map(_summarise, tasks, drift.summaries.workers, store), strict=True):
        summaries[task.file.name] = summary
        if index is not None:
            indexes[task.file.name] = index
    return summaries, indexes, len(tasks)


def summarise_prefix(
    source: str, prefix: str, reference: Reference, schema: FeatureSchema, drift: DriftParams, today: date
) -> int:
    """Store the summaries of the files under `<source>/<prefix>` that the check ending `today` needs: one map
    task of many (a Kubernetes Job per prefix, a Dask or Ray task); a plain summarize then joins the labels.
    """
    listing = list_log(source, drift.summaries.folder, today)
    store = Store(listing.filesystem, listing.root, drift.summaries.folder, reference.fingerprint)
    start = today - timedelta(days=drift.window_days - 1)
    window = [(day, file) for day in sorted(listing.by_day) if day >= start for file in listing.by_day[day]]
    under = f"{listing.root}/{prefix.strip('/')}/"
    needed = [(day, file) for day, file in _needed(listing, start, window) if file.name.startswith(under)]
    return _summaries(store, needed, reference, schema, drift, keep=True)[2]


def read_window_summaries(
    source: str, reference: Reference, schema: FeatureSchema, drift: DriftParams, today: date, keep: bool = False
) -> WindowSummaries:
    """The `drift.window_days` days ending `today`, merged from their files' summaries (computed where missing or
    stale, and stored when `keep`), the newest line of the whole log, and the join of the window's labels.
    """
    listing = list_log(source, drift.summaries.folder, today)
    store = Store(listing.filesystem, listing.root, drift.summaries.folder, reference.fingerprint)
    start = today - timedelta(days=drift.window_days - 1)
    chosen = [day for day in sorted(listing.by_day) if day >= start]
    window = [(day, file) for day in chosen for file in listing.by_day[day]]
    newest = max(listing.by_day, default=None)
    summaries, indexes, read = _summaries(store, _needed(listing, start, window), reference, schema, drift, keep)
    tally = WindowTally(reference.edges, list(schema.categorical_features), drift.contract.examples)
    for _, file in window:
        tally.add_summary(summaries[file.name])
    last_seen = None
    if newest is not None:
        moments = [summaries[file.name].newest for file in listing.by_day[newest]]
        last_seen = max((moment for moment in moments if moment is not None), default=None)
        last_seen = last_seen or datetime.combine(newest, time(), UTC)
    files = [file for _, file in window]
    first_day = chosen[0] if chosen else None
    labels = [file for file in listing.labels if first_day and (LABELS_FILES.day_of(file.name) or start) >= first_day]
    outcomes = None
    if tally.contract.rows and labels:
        key = _outcome_key(store, start, today, files, labels)
        outcomes = _stored_outcomes(store.read(store.outcomes_path(today, drift.window_days)), key)
        if outcomes is None:
            file_indexes = [
                IndexSource.of(indexes[file.name])
                if file.name in indexes
                else _file_index(store, file, reference, schema, drift)
                for file in files
            ]
            label_indexes = _label_indexes(store, labels, drift, keep)
            outcomes = join_window(file_indexes, label_indexes, drift.summaries.join_mib << 20)
            if keep:
                store.write(store.outcomes_path(today, drift.window_days), _table_bytes(_cells_table(outcomes, key)))
        if not outcomes.labels and not outcomes.unreadable_label_lines:
            outcomes = None
    return WindowSummaries(
        tally=tally,
        start=start,
        end=today,
        first_day=first_day,
        last_day=chosen[-1] if chosen else None,
        last_seen=last_seen,
        files=[file.name for file in files],
        outcomes=outcomes,
        read_files=read,
    )


def summarize(params: Params, current: str | None, today: date, prefix: str | None = None) -> str:
    """Compute and store what the check ending `today` needs (its files' summaries, their labels' indexes and
    the window's outcome cells) that the store lacks, or only the summaries of the files under `prefix`; say how
    many files were read.
    """
    schema = load_schema(params.data.schema_file)
    reference_file = require(params.paths.train, "split")
    predictions = require(params.paths.predictions, "evaluate")
    reference = read_reference(reference_file, sha256_of(reference_file), predictions, schema, params.drift)
    source = current or params.serve.inference_log_dir.as_posix()
    if prefix is not None:
        read = summarise_prefix(source, prefix, reference, schema, params.drift, today)
        return f"{source}: {read} log files under {prefix} summarised now"
    window = read_window_summaries(source, reference, schema, params.drift, today, keep=True)
    return (
        f"{source}: {len(window.files)} log files in the window ending {today}, {window.read_files} summarised now; "
        f"summaries in {params.drift.summaries.folder}/{reference.fingerprint}/"
    )
