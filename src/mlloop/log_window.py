"""Read the latest days of the inference log, from a local directory or any fsspec URL.

Lines that are not JSON, or JSON of another shape (a foreign writer, a truncated write), are
skipped and counted rather than failing the check: the log is production's, not ours to trust.
"""

import re
from dataclasses import dataclass
from datetime import date

import fsspec
import pandas as pd
from pydantic_core import from_json

from mlloop.errors import SourceError
from mlloop.schema import FeatureSchema

DAY_FILE = re.compile(r"predictions-(\d{4}-\d{2}-\d{2})\.jsonl$")


@dataclass(frozen=True)
class LogWindow:
    """The window's rows (features, churn_probability, timestamp, request_id, model_version), and what was skipped."""

    rows: pd.DataFrame
    skipped_lines: int
    first_day: date | None
    last_day: date | None
    files: list[str]


def _day_of(name: str) -> date | None:
    """The UTC day a log file holds, from its name; None for any other file (predictions-2026-02-30 too)."""
    match = DAY_FILE.search(name)
    try:
        return date.fromisoformat(match.group(1)) if match else None
    except ValueError:
        return None


def _usable(line: object, schema: FeatureSchema) -> bool:
    if not isinstance(line, dict):
        return False
    features = line.get("features")
    probability = line.get("churn_probability")
    if not isinstance(features, dict) or not isinstance(probability, int | float) or isinstance(probability, bool):
        return False
    for name in schema.numeric_features:
        value = features.get(name, "missing")
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            return False
    return all(isinstance(features.get(name), str) for name in schema.categorical_features)


def read_window(source: str, days: int, schema: FeatureSchema) -> LogWindow:
    """The newest `days` day files under `source` (the newest day present ends the window)."""
    try:
        filesystem, root = fsspec.core.url_to_fs(source)
        names = filesystem.ls(root, detail=False) if filesystem.exists(root) else []
    except OSError as error:
        raise SourceError(f"{source}: cannot list the inference log: {error}") from error
    by_day = {day: name for name in names if (day := _day_of(str(name))) is not None}
    chosen = sorted(by_day)[-days:]
    records: list[dict[str, object]] = []
    skipped = 0
    for day in chosen:
        with filesystem.open(by_day[day], "rb") as stream:
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
                records.append(
                    line["features"]
                    | {
                        "churn_probability": line["churn_probability"],
                        "timestamp": line.get("timestamp"),
                        "request_id": line.get("request_id"),
                        "model_version": line.get("model_version"),
                    }
                )
    columns = [*schema.feature_names, "churn_probability", "timestamp", "request_id", "model_version"]
    return LogWindow(
        rows=pd.DataFrame.from_records(records, columns=columns),
        skipped_lines=skipped,
        first_day=chosen[0] if chosen else None,
        last_day=chosen[-1] if chosen else None,
        files=[str(by_day[day]) for day in chosen],
    )


def read_labels(source: str) -> dict[str, bool]:
    """Delayed labels, by request id, from `<source>/labels/labels-*.jsonl`; empty when none arrived yet."""
    filesystem, root = fsspec.core.url_to_fs(source)
    labels: dict[str, bool] = {}
    for name in filesystem.glob(f"{root.rstrip('/')}/labels/labels-*.jsonl"):
        with filesystem.open(name, "rb") as stream:
            for raw in stream:
                try:
                    line = from_json(raw)
                except ValueError:
                    continue
                if isinstance(line, dict) and isinstance(line.get("churn"), bool):
                    labels[str(line.get("request_id"))] = line["churn"]
    return labels
