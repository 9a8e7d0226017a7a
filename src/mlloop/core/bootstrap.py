"""Bootstrap the difference between two models' metric: paired, when both scored the same rows, or unpaired,
when each scored rows of its own.

Each resample draws as many rows as there are, with replacement, and is scored by the metric's resampled
score (core.metrics), which scores a whole batch of resamples at once: a thousand resamples of twenty
thousand rows take about a second, where scoring them one by one took ten. A resample holding one class
is dropped, for every metric, so that the metrics of one run are compared on the same resamples.
"""

from dataclasses import dataclass

import numpy as np

from mlloop.core.metrics import THRESHOLD_FREE, Metric, ResampledScore

BATCH_CELLS = 2_000_000
"""Rows drawn per batch of resamples (about 16 MB of indices): a batch is scored at once."""


@dataclass(frozen=True)
class BootstrapResult:
    """The observed PR-minus-baseline difference and its bootstrap confidence interval."""

    metric: str
    observed_delta: float
    low: float
    high: float
    confidence: float
    resamples: int

    @property
    def significant(self) -> bool:
        """True when the interval excludes zero: the difference is unlikely to be resampling noise."""
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class Deltas:
    """A metric's observed difference (second model minus first) and its value on each resample kept."""

    metric: Metric
    observed: float
    resampled: np.ndarray

    def interval(self, confidence: float) -> tuple[float, float]:
        """The two-sided percentile interval."""
        tail = (1 - confidence) / 2
        low, high = np.quantile(self.resampled, [tail, 1 - tail])
        return float(low), float(high)

    def worse_end(self, confidence: float) -> float:
        """The end of the one-sided interval on the side where the second model is worse: the lower end for a
        metric that is better higher, the upper end for a loss.
        """
        return float(np.quantile(self.resampled, 1 - confidence if self.metric.better == "higher" else confidence))


def _scored(name: str) -> tuple[Metric, ResampledScore]:
    metric = THRESHOLD_FREE.get(name)
    if metric is None or metric.resampled is None:
        raise ValueError(f"{name!r} is not a metric of the probabilities alone ({', '.join(THRESHOLD_FREE)})")
    return metric, metric.resampled


def _batches(rows: int, resamples: int) -> list[int]:
    per_batch = max(1, BATCH_CELLS // max(rows, 1))
    return [min(per_batch, resamples - first) for first in range(0, resamples, per_batch)]


def _both_classes(label: np.ndarray, draws: np.ndarray) -> np.ndarray:
    positives = label[draws].sum(axis=1)
    return np.asarray((positives > 0) & (positives < draws.shape[1]))


def _kept(deltas: list[np.ndarray]) -> np.ndarray:
    kept = np.concatenate(deltas)
    if not len(kept):
        raise ValueError("every bootstrap resample held a single class: the rows are too few or one-sided")
    return kept


def paired_deltas(
    label: np.ndarray, first: np.ndarray, second: np.ndarray, metric: str, resamples: int, seed: int
) -> Deltas:
    """Resample the rows, the same ones for both models: pairing cancels the noise of which rows happen to be
    drawn, so the interval measures the models' difference.
    """
    registered, score = _scored(metric)
    label = np.asarray(label).astype(np.int64)
    generator = np.random.default_rng(seed)
    deltas = []
    for batch in _batches(len(label), resamples):
        draws = generator.integers(0, len(label), size=(batch, len(label)))
        draws = draws[_both_classes(label, draws)]
        deltas.append(score(label, second, draws) - score(label, first, draws) if len(draws) else np.empty(0))
    resampled = _kept(deltas)  # first: a metric of one class is undefined
    return Deltas(registered, registered.score(label, second) - registered.score(label, first), resampled)


def unpaired_deltas(
    first_label: np.ndarray,
    first: np.ndarray,
    second_label: np.ndarray,
    second: np.ndarray,
    metric: str,
    resamples: int,
    seed: int,
) -> Deltas:
    """Resample each model's own rows on their own: the interval holds the noise of both samples."""
    registered, score = _scored(metric)
    first_label = np.asarray(first_label).astype(np.int64)
    second_label = np.asarray(second_label).astype(np.int64)
    generator = np.random.default_rng(seed)
    deltas = []
    for batch in _batches(max(len(first_label), len(second_label)), resamples):
        first_draws = generator.integers(0, len(first_label), size=(batch, len(first_label)))
        second_draws = generator.integers(0, len(second_label), size=(batch, len(second_label)))
        kept = _both_classes(first_label, first_draws) & _both_classes(second_label, second_draws)
        first_draws, second_draws = first_draws[kept], second_draws[kept]
        deltas.append(
            score(second_label, second, second_draws) - score(first_label, first, first_draws)
            if kept.any()
            else np.empty(0)
        )
    resampled = _kept(deltas)  # first: a metric of one class is undefined
    observed = registered.score(second_label, second) - registered.score(first_label, first)
    return Deltas(registered, observed, resampled)


def paired_bootstrap(
    label: np.ndarray,
    baseline_probability: np.ndarray,
    pull_request_probability: np.ndarray,
    metric: str,
    resamples: int,
    confidence: float,
    seed: int,
) -> BootstrapResult:
    """The pull request's metric minus the baseline's on the same test rows, with its two-sided interval."""
    deltas = paired_deltas(label, baseline_probability, pull_request_probability, metric, resamples, seed)
    low, high = deltas.interval(confidence)
    return BootstrapResult(metric, deltas.observed, low, high, confidence, len(deltas.resampled))
