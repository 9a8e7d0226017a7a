"""What a drift check found, as typed data, and the files that hold it.

drift.json is this result serialised: the workflows, the drift issue and the published reports
read it, so its keys are the documented interface. It is written and read back only here.
"""

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from mlloop.config import Status
from mlloop.core.column_scores import ColumnScores
from mlloop.storage.files import json_text, read_report

ColumnKind = Literal["numeric", "categorical", "prediction"]
ContractRule = Literal["unreadable", "max_null_fraction", "type", "min", "max", "whole_number", "categories"]


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

    @property
    def history(self) -> Path:
        """history.jsonl: one status line per day, this check's included (`mlloop drift-history`)."""
        return self.directory / "history.jsonl"

    @property
    def history_markdown(self) -> Path:
        """history.md: the latest days of that history, for people (the job summary, the published report)."""
        return self.directory / "history.md"


class _Part(BaseModel):
    """Immutable, and reading back a drift.json of another shape fails instead of guessing."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class WindowSummary(_Part):
    """Where the current rows came from: the log, the window's days, the day files read, the newest line seen."""

    source: str
    days: int
    start: date
    end: date
    """The check's own day (UTC): the window ends there, whatever the log holds."""
    first_day: date | None
    last_day: date | None
    """The first and last days of the window that have log files."""
    last_seen: datetime | None
    """The newest line's timestamp in the whole log, inside the window or not; None for a log without lines."""
    files: list[str]


class RowCounts(_Part):
    """Rows on each side, and the log lines skipped as unreadable (counted by the contract too)."""

    current: int
    reference: int
    skipped_lines: int


class ReferenceFile(_Part):
    """The reference table, by path and content hash, so a check can be traced to its exact data."""

    path: str
    sha256: str


class RealisedMetric(_Part):
    """One metric on the labelled rows, the limits the gate sets for it, and how sure the check is of a breach."""

    name: str
    value: float
    bound: float | None
    """The better end of the value's one-sided confidence interval; computed only when the value breaks a limit."""
    test: float | None
    """The held-out value in metrics.json."""
    worst_acceptable: float | None
    max_regression: float | None


class Realised(_Part):
    """The model's quality on the window's rows whose delayed labels arrived, and the labels that could
    not be used: those that joined no row of the window, and lines of another shape.
    """

    rows: int
    """The window's rows joined to a label (monitoring.outcomes)."""
    metrics: list[RealisedMetric]
    """Empty unless both outcomes are among those rows: a metric of one class is undefined."""
    labels: int
    """Labels read: those written from the window's first day on."""
    unmatched_labels: int
    unreadable_label_lines: int


class ExampleLine(_Part):
    """One log line quoted as evidence: its file, its 1-based line number, its text (cut short)."""

    file: str
    line: int
    text: str


class ContractBreach(_Part):
    """A feature (or `(line)`, for the line as a whole) breaking one rule of the schema on too many lines."""

    feature: str
    rule: ContractRule
    count: int
    share: float
    """Of the window's readable lines; of all its lines for the rule `unreadable`."""
    limit: float
    detail: str
    examples: list[ExampleLine]


class Finding(_Part):
    """One status whose condition held, and why."""

    status: Status
    reasons: list[str]


class ColumnReport(_Part):
    """One column's scores and the scores that reached their threshold."""

    name: str
    kind: ColumnKind
    drifted_by: list[str]
    scores: ColumnScores


class DriftResult(_Part):
    """The status and why, everything else the check found, under which rules, on which data; the columns
    most drifted first.
    """

    status: Status
    """The most urgent finding's status (monitoring.status ranks them): what the workflow acts on."""
    reasons: list[str]
    findings: list[Finding]
    """Every status whose condition held, most urgent first; the first is `status` with its `reasons`."""
    rule: str
    window: WindowSummary
    rows: RowCounts
    reference: ReferenceFile
    model_versions: list[str]
    commit: str | None
    realised: Realised | None
    contract: list[ContractBreach]
    columns: list[ColumnReport]


def result_json(result: DriftResult) -> str:
    """drift.json's text; the json module writes it, as it reads it, so a NaN score survives the round trip."""
    return json_text(result.model_dump(mode="json"))


def read_result(directory: Path) -> DriftResult:
    """The last check's result from its report directory (its status, reasons, window ...)."""
    return read_report(DriftReportFiles(directory).result, DriftResult, "drift report", "make drift")
