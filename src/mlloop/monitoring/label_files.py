"""Where the delayed labels live beside the log, and how a label's line is written (monitoring.outcomes reads them).

Apart from the reader, which needs pandas: the check from summaries only finds the labels files, and
would otherwise pay pandas' import on every start.
"""

from datetime import date
from pathlib import Path

from pydantic_core import to_json

from mlloop.storage.day_files import DayFileName

LABELS_FOLDER = "labels"
LABELS_FILES = DayFileName("labels-{day}.jsonl")
"""A labels file's name, declared once: labels_file builds it, the readers match and parse it."""


def labels_file(directory: Path, day: date) -> Path:
    """The labels written on `day` beside the log in `directory`."""
    return LABELS_FILES.path(directory / LABELS_FOLDER, day)


def label_line(churn: bool, *, row_id: str | None = None, client_id: str | None = None) -> bytes:
    """One label, without its newline, keyed by the row's prediction_id or by the client's id."""
    key = {"prediction_id": row_id} if row_id is not None else {"client_id": client_id}
    return to_json(key | {"churn": churn})
