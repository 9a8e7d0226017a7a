"""What the A/B report found, as typed data, and the file that holds it.

ab.json is this result serialised: promote.yml acts on its `decision` and `evidence.closed`, so its keys
are the documented interface. It is written and read back only here.
"""

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from mlloop.serving.inference_log import Variant
from mlloop.storage.files import json_text, read_report

Decision = Literal["promote", "keep_champion", "insufficient_data"]


@dataclass(frozen=True)
class AbReportFiles:
    """The outputs of one report in its directory; every writer and reader names them through here."""

    directory: Path

    @property
    def result(self) -> Path:
        """ab.json: the decision and its numbers, for programs (promote.yml)."""
        return self.directory / "ab.json"

    @property
    def markdown(self) -> Path:
        """ab.md: the same, for people (the job summary, and the release or issue it is posted on)."""
        return self.directory / "ab.md"


LoggedMode = Literal["shadow", "split"]
Settled = Literal["promoted", "retired"]
"""What the newest line of the window shows already done with the challenger."""
"""How the log shows the challenger served: beside the champion on every row, or on rows of its own."""


class _Part(BaseModel):
    """Immutable, and reading back an ab.json of another shape fails instead of guessing."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class AbWindow(_Part):
    """The log's days the report read, and the delayed labels joined to its rows."""

    source: str
    days: int
    start: date
    end: date
    first_day: date | None
    last_day: date | None
    """The first and last days of the window that have log files."""
    rows: int
    labels: int
    """Labels read: those written from the window's first day on."""
    unmatched_labels: int


class Evidence(_Part):
    """Since when the challenger has been logged, and whether its evidence window has closed."""

    days: int
    """ab.decision.evidence_days: the window's length."""
    first_day: date | None
    """The first day of the window on which the challenger was logged; None without a challenger."""
    closed: bool
    """The challenger was logged on the window's first day: it has had the whole window. The decision is taken then."""


class VariantSummary(_Part):
    """One variant's rows in the comparison and its quality on those whose delayed label arrived."""

    variant: Variant
    model_versions: list[str]
    rows: int
    labelled_rows: int
    mean_prediction: float | None
    metrics: dict[str, float]
    """Every metric of the probabilities alone, by name; empty unless both outcomes are among the labelled rows."""


class Difference(_Part):
    """The challenger's decision metric minus the champion's, and the end of its one-sided interval where the
    challenger is worse.
    """

    metric: str
    champion: float
    challenger: float
    delta: float
    bound: float
    """The one-sided interval's end: no lower than this for a metric better higher, no higher for a loss."""
    improvement_bound: float
    """The bound as a gain, positive when even there the challenger is better: what min_improvement is held to."""
    confidence: float
    resamples: int
    """Resamples kept: those holding both outcomes on each side."""
    paired: bool
    """Paired on the same rows (shadow mode), or each variant on its own rows (split mode)."""


class Floor(_Part):
    """One of the gate's floors (gate.worst_acceptable) held against the challenger's realised value."""

    metric: str
    limit: float
    challenger: float
    met: bool


class AbResult(_Part):
    """The decision and why, on which rows, under which rule; the numbers that decided."""

    decision: Decision
    reasons: list[str]
    rule: str
    mode: LoggedMode | None
    """None when no line of the window names a challenger."""
    challenger_version: str | None
    skipped_rows: int
    settled: Settled | None
    """promoted: the newest line was answered by the challenger's version as the champion; retired: in shadow mode,
    the newest line names no challenger. Then the decision has been carried out, and promote.yml does nothing."""
    """Shadow mode: rows the champion answered while the challenger skipped them under load, in neither variant."""
    window: AbWindow
    evidence: Evidence
    variants: list[VariantSummary]
    """The champion first, then the challenger; empty without a challenger."""
    difference: Difference | None
    floors: list[Floor]
    commit: str | None


def result_json(result: AbResult) -> str:
    """ab.json's text."""
    return json_text(result.model_dump(mode="json"))


def read_result(directory: Path) -> AbResult:
    """The last report's result (its decision, evidence, numbers) from its report directory."""
    return read_report(AbReportFiles(directory).result, AbResult, "A/B report", "make ab-report")
