"""Read the latest days of the inference log, from a local directory or any fsspec URL.

The log is read from every folder under its root: in Kubernetes each pod's shipper syncs its own
day files to `<root>/<pod name>/`, so one day is one file per pod that served that day.

Lines that are not JSON, or JSON of another shape (a foreign writer, a truncated write), are
skipped and counted rather than failing the check: the log is production's, not ours to trust.
"""

import io
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.json as pa_json
from botocore.exceptions import BotoCoreError
from pydantic_core import from_json

from mlloop.core.schema import FeatureSchema
from mlloop.errors import SourceError
from mlloop.serving.inference_log import day_of_log_file
from mlloop.storage.store_errors import diagnose


@dataclass(frozen=True)
class LogWindow:
    """The window's rows (features and COLUMNS), and what was skipped.

    prediction_id and client_id are null in lines written before the log carried them
    (monitoring.outcomes derives the prediction_id of those).
    """

    rows: pd.DataFrame
    skipped_lines: int
    first_day: date | None
    last_day: date | None
    files: list[str]


COLUMNS = ("churn_probability", "timestamp", "request_id", "model_version", "prediction_id", "client_id")


def _usable(line: object, schema: FeatureSchema) -> bool:
    """The service's shape: every feature, a number or a label as the schema types it, null only where allowed."""
    if not isinstance(line, dict):
        return False
    features = line.get("features")
    probability = line.get("churn_probability")
    if not isinstance(features, dict) or not isinstance(probability, int | float) or isinstance(probability, bool):
        return False
    for name, feature in schema.numeric_features.items():
        value = features.get(name, "missing")
        if value is None and feature.max_null_fraction > 0:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
    return all(isinstance(features.get(name), str) for name in schema.categorical_features)


def _read_lines(stream: BinaryIO, schema: FeatureSchema) -> tuple[pd.DataFrame, int]:
    """Line by line, for a file with a line pyarrow cannot parse: each bad line is skipped and counted."""
    records: list[dict[str, object]] = []
    skipped = 0
    for raw in stream:
        if not raw.strip():
            continue
        try:
            line = from_json(raw)
        except ValueError:
            skipped += 1
            continue
        if not _usable(line, schema):
            skipped += 1
            continue
        records.append(line["features"] | {column: line.get(column) for column in COLUMNS})
    return pd.DataFrame.from_records(records, columns=[*schema.feature_names, *COLUMNS]), skipped


def _arrow_schema(schema: FeatureSchema) -> pa.Schema:
    features = [
        pa.field(name, pa.string() if name in schema.categorical_features else pa.float64())
        for name in schema.feature_names
    ]
    return pa.schema(
        [pa.field("features", pa.struct(features)), pa.field("churn_probability", pa.float64())]
        + [pa.field(column, pa.string()) for column in COLUMNS[1:]]
    )


def _read_columnar(data: bytes, schema: FeatureSchema) -> tuple[pd.DataFrame, int] | None:
    """The whole file at once with pyarrow's JSON reader, typed by the schema; None when a line breaks it."""
    options = pa_json.ParseOptions(explicit_schema=_arrow_schema(schema), unexpected_field_behavior="ignore")
    try:
        table = pa_json.read_json(pa.BufferReader(data), parse_options=options)
    except pa.ArrowInvalid:
        return None
    flat = table.flatten()
    # Labels as pandas categoricals: a million rows of ten label columns stay small and count fast.
    labelled = {f"features.{name}" for name in schema.categorical_features} | {"model_version"}
    flat = pa.table(
        [
            column.dictionary_encode() if name in labelled else column
            for name, column in zip(flat.column_names, flat.columns, strict=True)
        ],
        names=flat.column_names,
    )
    frame = flat.to_pandas()
    frame.columns = [str(name).removeprefix("features.") for name in frame.columns]
    required = [
        name
        for name in schema.feature_names
        if name in schema.categorical_features or schema.numeric_features[name].max_null_fraction == 0
    ]
    usable = frame[[*required, "churn_probability"]].notna().all(axis=1)
    return frame.loc[usable, [*schema.feature_names, *COLUMNS]], int((~usable).sum())


def read_window(source: str, days: int, schema: FeatureSchema) -> LogWindow:
    """The day files of the newest `days` days anywhere under `source` (the newest day present ends the window).

    Each file is read whole by pyarrow, which is fast and light; a file with a line it cannot
    parse is read again line by line, so one corrupt line costs only that line.
    """
    try:
        filesystem, root = fsspec.core.url_to_fs(source)
        names = sorted(map(str, filesystem.find(root))) if filesystem.exists(root) else []
    except (OSError, BotoCoreError) as error:
        reason = diagnose(source, str(error)) or f"{source}: {error}"
        raise SourceError(f"cannot list the inference log: {reason}") from error
    by_day: dict[date, list[str]] = {}
    for name in names:
        if (day := day_of_log_file(name)) is not None:
            by_day.setdefault(day, []).append(name)
    chosen = sorted(by_day)[-days:]
    files = [name for day in chosen for name in by_day[day]]
    frames = []
    skipped = 0
    for name in files:
        with filesystem.open(name, "rb") as stream:
            data = stream.read()
        read = _read_columnar(data, schema) or _read_lines(io.BytesIO(data), schema)
        frames.append(read[0])
        skipped += read[1]
    empty = pd.DataFrame(columns=[*schema.feature_names, *COLUMNS])
    return LogWindow(
        rows=pd.concat(frames, ignore_index=True) if frames else empty,
        skipped_lines=skipped,
        first_day=chosen[0] if chosen else None,
        last_day=chosen[-1] if chosen else None,
        files=files,
    )
