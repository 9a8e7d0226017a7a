"""Read the inference log's window, from a local directory or any fsspec URL, and hold every line to the schema.

The window is the `days` days that end on the check's own day (UTC), whatever the log holds: a log
that went silent leaves the window empty instead of having its old traffic judged again. The
newest line of the whole log is found too, inside the window or not, for the status `stale`.

The log is read from every folder under its root: in Kubernetes each pod's shipper syncs its own
day files to `<root>/<pod name>/`, so one day is one file per pod that served that day.

The log is production's, and other services may write to its store, so every line is held to the
schema (monitoring.log_contract) and counted, never silently dropped. A line that is not a JSON object
with a features object and a numeric probability is unreadable: counted and skipped. A value of the
wrong JSON type is counted and read as null; nulls, values out of range and unknown labels are
counted and kept in the rows, where the drift scores see them too. Each count quotes its first lines.
"""

import io
import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, BinaryIO

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json
from botocore.exceptions import BotoCoreError
from pydantic_core import from_json

from mlloop.config import ContractParams, DriftParams
from mlloop.core.schema import FeatureSchema
from mlloop.errors import SourceError
from mlloop.monitoring.drift_result import ContractRule, ExampleLine
from mlloop.monitoring.log_contract import LINE, ContractCounts, RuleCount, violations
from mlloop.serving.inference_log import Variant, day_of_log_file
from mlloop.storage.store_errors import diagnose


@dataclass(frozen=True)
class LogWindow:
    """The window's rows (features and COLUMNS), its days, the newest line of the whole log, and every
    line that broke the schema.

    prediction_id and client_id are null in lines written before the log carried them
    (monitoring.outcomes derives the prediction_id of those); their variant is the champion.
    """

    rows: pd.DataFrame
    skipped_lines: int
    """Unreadable lines: not in the rows, counted under the contract's rule `unreadable`."""
    start: date
    end: date
    first_day: date | None
    last_day: date | None
    """The first and last days of the window that have log files."""
    last_seen: datetime | None
    """The newest line's timestamp in the whole log up to `end`; its day at midnight when no timestamp parses."""
    files: list[str]
    contract: ContractCounts


NUMBER_COLUMNS = ("churn_probability", "challenger_probability")
LABEL_COLUMNS = ("model_version", "variant", "challenger_version")
"""Few distinct values each: read as categoricals."""
TEXT_COLUMNS = ("timestamp", "request_id", "prediction_id", "client_id", *LABEL_COLUMNS)
COLUMNS = NUMBER_COLUMNS + TEXT_COLUMNS
CHAMPION: Variant = "champion"

JSON_TYPES = {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}
"""The JSON type of a parsed value, by its Python type (bool first: a bool is an int)."""


@dataclass(frozen=True)
class FileRows:
    """One file's readable rows, and where each readable and unreadable line sits among its non-blank lines."""

    table: pa.Table
    """The rows' features and COLUMNS, typed by flat_schema: counted column by column, never row by row."""
    positions: np.ndarray
    """Each row's 0-based position among the file's non-blank lines."""
    unreadable: np.ndarray
    """The positions of the unreadable lines."""
    wrong_types: dict[str, np.ndarray] = field(default_factory=dict)
    """Per feature, the rows whose value had the wrong JSON type (read as null)."""
    type_names: dict[str, Counter[str]] = field(default_factory=dict)

    def frame(self, schema: FeatureSchema) -> pd.DataFrame:
        """The rows as pandas, for the line-by-line check: labels as categoricals, so a million rows stay small."""
        labelled = {*schema.categorical_features, *LABEL_COLUMNS}
        columns = [
            column.dictionary_encode() if name in labelled else column
            for name, column in zip(self.table.column_names, self.table.columns, strict=True)
        ]
        frame: pd.DataFrame = pa.table(columns, names=self.table.column_names).to_pandas()
        return frame


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: object) -> float | None:
    """A JSON number as pyarrow's reader reads it (an integer too large for a float is infinite); None for anything
    else.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _read_lines(stream: BinaryIO, schema: FeatureSchema) -> FileRows:
    """Line by line, for a file pyarrow cannot read whole: each line is checked against the schema on its own."""
    records: list[dict[str, object]] = []
    positions: list[int] = []
    unreadable: list[int] = []
    wrong: dict[str, list[int]] = {}
    type_names: dict[str, Counter[str]] = {}
    categorical = schema.categorical_features
    position = -1
    for raw in stream:
        if not raw.strip():
            continue
        position += 1
        try:
            line = from_json(raw)
        except ValueError:
            unreadable.append(position)
            continue
        features = line.get("features") if isinstance(line, dict) else None
        if not isinstance(features, dict) or not _is_number(line.get("churn_probability")):
            unreadable.append(position)
            continue
        record: dict[str, Any] = {}
        for name in schema.feature_names:
            value = features.get(name)
            typed = isinstance(value, str) if name in categorical else _is_number(value)
            if value is not None and not typed:
                wrong.setdefault(name, []).append(len(records))
                type_names.setdefault(name, Counter())[JSON_TYPES.get(type(value), type(value).__name__)] += 1
                value = None
            record[name] = value if name in categorical else _number(value)
        record |= {column: _number(line.get(column)) for column in NUMBER_COLUMNS}
        record |= {column: value if isinstance(value := line.get(column), str) else None for column in TEXT_COLUMNS}
        records.append(record)
        positions.append(position)
    table = pa.Table.from_pylist(records, schema=flat_schema(schema))
    masks = {}
    for name, rows in wrong.items():
        masks[name] = np.zeros(len(table), dtype=bool)
        masks[name][rows] = True
    return FileRows(table, np.array(positions, dtype=np.int64), np.array(unreadable, dtype=np.int64), masks, type_names)


def _feature_fields(schema: FeatureSchema) -> list[pa.Field]:
    return [
        pa.field(name, pa.string() if name in schema.categorical_features else pa.float64())
        for name in schema.feature_names
    ]


def _column_fields() -> list[pa.Field]:
    return [pa.field(column, pa.float64()) for column in NUMBER_COLUMNS] + [
        pa.field(column, pa.string()) for column in TEXT_COLUMNS
    ]


def flat_schema(schema: FeatureSchema) -> pa.Schema:
    """The rows' columns: the features, then COLUMNS."""
    return pa.schema(_feature_fields(schema) + _column_fields())


def _arrow_schema(schema: FeatureSchema) -> pa.Schema:
    """A line as pyarrow's JSON reader types it: the features in their own object."""
    return pa.schema([pa.field("features", pa.struct(_feature_fields(schema))), *_column_fields()])


def _read_columnar(data: bytes | memoryview, schema: FeatureSchema) -> FileRows | None:
    """The whole file at once with pyarrow's JSON reader, typed by the schema; None when a line breaks it.

    pyarrow skips blank lines, so its row i is the i-th non-blank line.
    """
    options = pa_json.ParseOptions(explicit_schema=_arrow_schema(schema), unexpected_field_behavior="ignore")
    try:
        table = pa_json.read_json(pa.BufferReader(data), parse_options=options)
    except pa.ArrowInvalid:
        return None
    readable = pc.and_(pc.is_valid(table["features"]), pc.is_valid(table["churn_probability"]))
    flat = table.flatten()
    flat = flat.rename_columns([name.removeprefix("features.") for name in flat.column_names])
    flat = flat.select(flat_schema(schema).names)
    if pc.all(readable).as_py():
        return FileRows(flat, np.arange(len(flat)), np.array([], dtype=np.int64))
    readable_rows = readable.to_numpy(zero_copy_only=False)
    return FileRows(flat.filter(readable), np.flatnonzero(readable_rows), np.flatnonzero(~readable_rows))


def read_rows(data: bytes | memoryview, schema: FeatureSchema) -> FileRows:
    """Whole lines (a file, or a block of one) read at once by pyarrow, which is fast and light; lines
    with one pyarrow cannot parse are read again line by line, so one bad line costs only that line.
    """
    return _read_columnar(data, schema) or _read_lines(io.BytesIO(data), schema)


def _quote(
    data: bytes | memoryview, positions: set[int], characters: int, first_line: int
) -> dict[int, tuple[int, str]]:
    """The line number and text (cut after `characters`) of the non-blank lines at these positions;
    `data`'s first line is number `first_line` of its file.
    """
    quoted: dict[int, tuple[int, str]] = {}
    if not positions:  # most blocks, once each rule has its examples: no copy of the block to read its lines
        return quoted
    position = -1
    for number, raw in enumerate(io.BytesIO(data), start=first_line):
        if len(quoted) == len(positions):
            break
        if not raw.strip():
            continue
        position += 1
        if position in positions:
            text = raw.decode(errors="replace").rstrip("\r\n")
            quoted[position] = (number, text if len(text) <= characters else f"{text[:characters]}…")
    return quoted


def _observe(rule: ContractRule, count: RuleCount, values: pa.ChunkedArray, hits: np.ndarray) -> None:
    """Remember what broke the rule: the unknown labels with their counts, or the most extreme value."""
    if rule == "categories":
        labels, times = np.unique(np.array(values.take(hits).to_pylist(), dtype=str), return_counts=True)
        count.values.update(dict(zip(labels.tolist(), times.tolist(), strict=True)))
    elif rule in ("min", "max"):
        offending = values.take(hits).to_numpy(zero_copy_only=False)
        extreme = float(offending.min() if rule == "min" else offending.max())
        worse = min if rule == "min" else max
        count.extreme = extreme if count.extreme is None else worse(count.extreme, extreme)


def count_contract(
    counts: ContractCounts,
    name: str,
    data: bytes | memoryview,
    rows: FileRows,
    schema: FeatureSchema,
    contract: ContractParams,
    first_line: int = 1,
) -> None:
    """Add the lines of one file (or of a block of it, whose first line is `first_line`) to the contract
    counts, quoting the first offending lines of each rule.
    """
    counts.rows += len(rows.table)
    counts.lines += len(rows.table) + len(rows.unreadable)
    wanted: dict[tuple[str, ContractRule], list[int]] = {}
    if len(rows.unreadable):
        count = counts.count(LINE, "unreadable")
        count.count += len(rows.unreadable)
        wanted[LINE, "unreadable"] = rows.unreadable[: contract.examples - len(count.examples)].tolist()
    for feature, rule, mask in violations(rows.table, schema, rows.wrong_types):
        hits = np.flatnonzero(mask)
        if not len(hits):
            continue
        count = counts.count(feature, rule)
        count.count += len(hits)
        _observe(rule, count, rows.table[feature], hits)
        if rule == "type":
            count.values.update(rows.type_names[feature])
        wanted[feature, rule] = rows.positions[hits[: contract.examples - len(count.examples)]].tolist()
    wanted_positions = {position for positions in wanted.values() for position in positions}
    quoted = _quote(data, wanted_positions, contract.example_chars, first_line)
    for key, positions in wanted.items():
        counts.rules[key].examples += [ExampleLine(file=name, line=quoted[p][0], text=quoted[p][1]) for p in positions]


def champion_where_unnamed(variants: pd.Series) -> pd.Series:
    """Lines written before the log named a variant were all the champion's (a bento held one model)."""
    labels = variants.astype("category")
    if CHAMPION not in labels.cat.categories:
        labels = labels.cat.add_categories(CHAMPION)
    return labels.fillna(CHAMPION)


def _newest_line(frames: list[pd.DataFrame], day: date) -> datetime:
    """The newest timestamp of a day's rows; the day's midnight (UTC) when none of them parses."""
    stamps = pd.concat([frame["timestamp"] for frame in frames], ignore_index=True)
    newest = pd.to_datetime(stamps, utc=True, errors="coerce", format="ISO8601").max()
    return datetime.combine(day, time(), UTC) if pd.isna(newest) else newest.to_pydatetime()


def _read(filesystem: fsspec.AbstractFileSystem, name: str) -> bytes:
    with filesystem.open(name, "rb") as stream:
        data: bytes = stream.read()
    return data


def read_window(source: str, schema: FeatureSchema, drift: DriftParams, today: date) -> LogWindow:
    """The day files of the `drift.window_days` days ending `today` anywhere under `source`, held to the schema.

    Files of days after `today` are not read: only a wrong clock writes them.
    """
    try:
        filesystem, root = fsspec.core.url_to_fs(source)
        names = sorted(map(str, filesystem.find(root))) if filesystem.exists(root) else []
    except (OSError, BotoCoreError) as error:
        reason = diagnose(source, str(error)) or f"{source}: {error}"
        raise SourceError(f"cannot list the inference log: {reason}") from error
    by_day: dict[date, list[str]] = {}
    summaries = f"{root.rstrip('/')}/{drift.summaries.folder}/"
    for name in names:
        if name.startswith(summaries):
            continue  # per-file summaries kept beside the log (monitoring.summaries), never log lines
        if (day := day_of_log_file(name)) is not None and day <= today:
            by_day.setdefault(day, []).append(name)
    start = today - timedelta(days=drift.window_days - 1)
    chosen = [day for day in sorted(by_day) if day >= start]
    counts = ContractCounts()
    frames: dict[date, list[pd.DataFrame]] = {}
    for day in chosen:
        for name in by_day[day]:
            data = _read(filesystem, name)
            rows = read_rows(data, schema)
            count_contract(counts, name, data, rows, schema, drift.contract)
            frames.setdefault(day, []).append(rows.frame(schema))
    newest = max(by_day, default=None)
    last_seen = None
    if newest is not None:
        newest_frames = frames.get(newest) or [
            read_rows(_read(filesystem, name), schema).frame(schema) for name in by_day[newest]
        ]
        last_seen = _newest_line(newest_frames, newest)
    every = [frame for day in chosen for frame in frames[day]]
    window = pd.concat(every, ignore_index=True) if every else pd.DataFrame(columns=[*schema.feature_names, *COLUMNS])
    window["variant"] = champion_where_unnamed(window["variant"])
    unreadable = counts.rules.get((LINE, "unreadable"))
    return LogWindow(
        rows=window,
        skipped_lines=unreadable.count if unreadable else 0,
        start=start,
        end=today,
        first_day=chosen[0] if chosen else None,
        last_day=chosen[-1] if chosen else None,
        last_seen=last_seen,
        files=[name for day in chosen for name in by_day[day]],
        contract=counts,
    )
