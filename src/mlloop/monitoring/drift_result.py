"""What a drift check found, as typed data, and the files that hold it.

drift.json is this result serialised: the workflows, the drift issue and the published reports
read it, so its keys are the documented interface. It is written and read back only here.
"""

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from mlloop.core.drift_scores import ColumnScores
from mlloop.errors import SourceError
from mlloop.storage.files import json_text, read_json

Status = Literal["drift", "no_drift", "insufficient_data"]
ColumnKind = Literal["numeric", "categorical", "prediction"]


@dataclass(frozen=True)
class DriftReportFiles:
    """The outputs of one check in its report directory; every writer and reader names them through here."""

    directory: Path

    @property
    def result(self) -> Path:
        """drift.json: the result, for programs."""
        return self.directory / "drift.json"

    @property
    def markdown(self) -> Path:
        """drift.md: the result, for people (the job summary and the issue's body)."""
        return self.directory / "drift.md"

    @property
    def plots(self) -> Path:
        """One PNG per drifted feature."""
        return self.directory / "plots"


class _Part(BaseModel):
    """Immutable, and reading back a drift.json of another shape fails instead of guessing."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class WindowSummary(_Part):
    """Where the current rows came from: the log, the days asked for, the day files read."""

    source: str
    days: int
    first_day: date | None
    last_day: date | None
    files: list[str]


class RowCounts(_Part):
    """Rows on each side, and the log lines skipped as unreadable."""

    current: int
    reference: int
    skipped_lines: int


class ReferenceFile(_Part):
    """The reference table, by path and content hash, so a check can be traced to its exact data."""

    path: str
    sha256: str


class Realised(_Part):
    """The model's ranking quality on the window's rows whose delayed labels arrived, and the labels
    that could not be used: those that joined no row of the window, and lines of another shape.
    """

    rows: int
    """The window's rows joined to a label."""
    roc_auc: float | None
    """None unless both outcomes are among those rows."""
    labels: int
    """Labels read: those written from the window's first day on."""
    unmatched_labels: int
    unreadable_label_lines: int


class ColumnReport(_Part):
    """One column's scores and the scores that reached their threshold."""

    name: str
    kind: ColumnKind
    drifted_by: list[str]
    scores: ColumnScores


class DriftResult(_Part):
    """The verdict, why, under which rule, on which data; the columns most drifted first."""

    status: Status
    reasons: list[str]
    rule: str
    window: WindowSummary
    rows: RowCounts
    reference: ReferenceFile
    model_versions: list[str]
    commit: str | None
    realised: Realised | None
    columns: list[ColumnReport]


def result_json(result: DriftResult) -> str:
    """drift.json's text; the json module writes it, as it reads it, so a NaN score survives the round trip."""
    return json_text(result.model_dump(mode="json"))


def read_result(directory: Path) -> DriftResult:
    """The last check's result from its report directory (its status, reasons, window ...)."""
    path = DriftReportFiles(directory).result
    if not path.is_file():
        raise SourceError(f"{path}: no drift report; run `make drift` first")
    try:
        return DriftResult.model_validate(read_json(path))
    except (OSError, ValueError) as error:  # invalid JSON and a pydantic ValidationError are ValueErrors
        raise SourceError(
            f"{path}: not a drift report this version can read ({error}); run `make drift` again"
        ) from error
