"""A log file's summary as data, and the tally that merges summaries (and that a summary is built in).

What a summary holds, and why, is in monitoring.log_summary, which reads the lines; this module needs
neither pandas nor the JSON reader, so a check that only merges summaries stays quick to start.
"""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
from pydantic import BaseModel, ConfigDict

from mlloop.core.binned_scores import NumericCounts, bin_values
from mlloop.monitoring.drift_result import ContractRule, ExampleLine
from mlloop.monitoring.log_contract import ContractCounts, RuleCount

FORMAT = 1
"""The summaries' format: part of every fingerprint, so a new format never reads an old file."""
PREDICTION = "churn_probability"
CHALLENGER = "challenger_probability"


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Histogram(_Part):
    """A numeric column over its fine bins: the count and sum of the values in each, the nulls, the extremes."""

    counts: list[int]
    sums: list[float]
    nulls: int
    low: float | None
    high: float | None


class LabelCounts(_Part):
    """A categorical column: every label seen with its count (unknown labels too), and the nulls."""

    counts: dict[str, int]
    nulls: int


class RuleSummary(_Part):
    """One rule of the contract broken in the file, as monitoring.log_contract counts it."""

    feature: str
    rule: ContractRule
    count: int
    examples: list[ExampleLine]
    values: dict[str, int]
    extreme: float | None


class FileSummary(_Part):
    """One log file summarised; `size` and `etag` say which version of the file it is of."""

    format: int
    fingerprint: str
    file: str
    size: int
    etag: str | None
    day: date
    lines: int
    rows: int
    newest: datetime | None
    """The newest timestamp among the file's rows; None when none parses."""
    numeric: dict[str, Histogram]
    categorical: dict[str, LabelCounts]
    probability: Histogram
    variants: dict[str, int]
    """Rows by the variant that answered (lines without one: the champion)."""
    variant_probability: dict[str, Histogram]
    model_versions: dict[str, int]
    challenger_versions: dict[str, int]
    challenger_probability: Histogram
    contract: list[RuleSummary]


@dataclass
class Bins:
    """One numeric column's running counts over its fine bins."""

    edges: np.ndarray
    counts: np.ndarray
    sums: np.ndarray
    nulls: int = 0
    low: float | None = None
    high: float | None = None

    @classmethod
    def empty(cls, edges: np.ndarray) -> "Bins":
        """No value yet."""
        return cls(edges, np.zeros(len(edges) + 1, dtype=np.int64), np.zeros(len(edges) + 1))

    def add_values(self, values: np.ndarray) -> None:
        """A block's values, NaN for a null."""
        present = values[~np.isnan(values)]
        self.nulls += len(values) - len(present)
        if not len(present):
            return
        counts, sums = bin_values(self.edges, present)
        self.counts += counts
        self.sums += sums
        self._extremes(float(present.min()), float(present.max()))

    def add_histogram(self, histogram: Histogram) -> None:
        """Another file's counts of the same column."""
        self.counts += np.asarray(histogram.counts, dtype=np.int64)
        self.sums += np.asarray(histogram.sums, dtype=float)
        self.nulls += histogram.nulls
        if histogram.low is not None and histogram.high is not None:
            self._extremes(histogram.low, histogram.high)

    def _extremes(self, low: float, high: float) -> None:
        self.low = low if self.low is None else min(self.low, low)
        self.high = high if self.high is None else max(self.high, high)

    def histogram(self) -> Histogram:
        """The counts as a summary keeps them."""
        return Histogram(
            counts=self.counts.tolist(), sums=self.sums.tolist(), nulls=self.nulls, low=self.low, high=self.high
        )

    def numeric_counts(self) -> NumericCounts:
        """What core.binned_scores scores."""
        return NumericCounts(self.counts, self.sums, self.nulls)


@dataclass
class LabelTally:
    """A categorical column's running label counts and nulls."""

    counts: Counter[str] = field(default_factory=Counter)
    nulls: int = 0


@dataclass
class WindowTally:
    """Counts of many lines, added block by block or summary by summary; what a summary holds and the check scores."""

    edges: Mapping[str, np.ndarray]
    """The fine bins' inner edges of each numeric feature and of PREDICTION (core.binned_scores.fine_edges)."""
    categorical: list[str]
    examples: int
    newest: datetime | None = None
    numeric: dict[str, Bins] = field(init=False)
    labels: dict[str, LabelTally] = field(init=False)
    probability: Bins = field(init=False)
    variants: Counter[str] = field(default_factory=Counter)
    variant_probability: dict[str, Bins] = field(default_factory=dict)
    model_versions: Counter[str] = field(default_factory=Counter)
    challenger_versions: Counter[str] = field(default_factory=Counter)
    challenger_probability: Bins = field(init=False)
    contract: ContractCounts = field(default_factory=ContractCounts)

    def __post_init__(self) -> None:
        self.numeric = {name: Bins.empty(edges) for name, edges in self.edges.items() if name != PREDICTION}
        self.labels = {name: LabelTally() for name in self.categorical}
        self.probability = Bins.empty(self.edges[PREDICTION])
        self.challenger_probability = Bins.empty(self.edges[PREDICTION])

    def later(self, moment: datetime | None) -> None:
        """Keep the newest timestamp seen."""
        if moment is not None and (self.newest is None or moment > self.newest):
            self.newest = moment

    def add_summary(self, summary: FileSummary) -> None:
        """A file's summary, merged after those of the files before it in the window."""
        self.later(summary.newest)
        for name, bins in self.numeric.items():
            bins.add_histogram(summary.numeric[name])
        for name, labels in self.labels.items():
            labels.counts.update(summary.categorical[name].counts)
            labels.nulls += summary.categorical[name].nulls
        self.probability.add_histogram(summary.probability)
        self.variants.update(summary.variants)
        for variant, histogram in summary.variant_probability.items():
            self.variant_probability.setdefault(variant, Bins.empty(self.edges[PREDICTION])).add_histogram(histogram)
        self.model_versions.update(summary.model_versions)
        self.challenger_versions.update(summary.challenger_versions)
        self.challenger_probability.add_histogram(summary.challenger_probability)
        self.contract.lines += summary.lines
        self.contract.rows += summary.rows
        for rule in summary.contract:
            count = self.contract.count(rule.feature, rule.rule)
            count.count += rule.count
            count.examples += rule.examples[: self.examples - len(count.examples)]
            count.values.update(rule.values)
            if rule.extreme is not None:
                worse = min if rule.rule == "min" else max
                count.extreme = rule.extreme if count.extreme is None else worse(count.extreme, rule.extreme)

    def numeric_counts(self, name: str) -> NumericCounts:
        """A numeric feature's counts, or the probability's (PREDICTION), for core.binned_scores."""
        return (self.probability if name == PREDICTION else self.numeric[name]).numeric_counts()

    def label_counts(self, name: str) -> tuple[dict[str, int], int]:
        """A categorical feature's label counts and nulls."""
        return dict(self.labels[name].counts), self.labels[name].nulls

    def summary(self, fingerprint: str, file: str, size: int, etag: str | None, day: date) -> FileSummary:
        """What was added, as one file's summary."""
        return FileSummary(
            format=FORMAT,
            fingerprint=fingerprint,
            file=file,
            size=size,
            etag=etag,
            day=day,
            lines=self.contract.lines,
            rows=self.contract.rows,
            newest=self.newest,
            numeric={name: bins.histogram() for name, bins in self.numeric.items()},
            categorical={
                name: LabelCounts(counts=dict(labels.counts), nulls=labels.nulls)
                for name, labels in self.labels.items()
            },
            probability=self.probability.histogram(),
            variants=dict(self.variants),
            variant_probability={name: bins.histogram() for name, bins in self.variant_probability.items()},
            model_versions=dict(self.model_versions),
            challenger_versions=dict(self.challenger_versions),
            challenger_probability=self.challenger_probability.histogram(),
            contract=[_rule(feature, rule, count) for (feature, rule), count in self.contract.rules.items()],
        )


def _rule(feature: str, rule: ContractRule, count: RuleCount) -> RuleSummary:
    return RuleSummary(
        feature=feature,
        rule=rule,
        count=count.count,
        examples=count.examples,
        values=dict(count.values),
        extreme=count.extreme,
    )
