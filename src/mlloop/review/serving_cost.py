"""Serving cost measured, not read from git: the baseline's model and the PR's timed in one process,
call by call in turn on the same rows, and the PR / baseline time ratio with a paired bootstrap
interval. Timings recorded on another machine at another time differ by more than most changes do.

Pure: the models come in as callables and the clock can be replaced, so fakes test it exactly.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from mlloop.config import ServingCostParams

MILLISECONDS = 1000.0

Clock = Callable[[], float]
"""Seconds, monotonic: time.perf_counter, or a fake in tests."""

Predict = Callable[[pd.DataFrame], object]
"""One model's scoring call on a table of feature rows."""

RatioVerdict = Literal["slower", "faster", "within noise"]


@dataclass(frozen=True)
class Timings:
    """One model's wall-clock time of each call on one workload, in milliseconds."""

    milliseconds: tuple[float, ...]

    @property
    def p50(self) -> float:
        """The median call."""
        return float(np.median(self.milliseconds))


@dataclass(frozen=True)
class RatioInterval:
    """PR time / baseline time per call, the median over call pairs, and its bootstrap interval."""

    observed: float
    low: float
    high: float
    confidence: float
    resamples: int

    @property
    def verdict(self) -> RatioVerdict:
        """Slower or faster only when the interval excludes 1: otherwise the difference is timing noise."""
        if self.low > 1:
            return "slower"
        if self.high < 1:
            return "faster"
        return "within noise"


@dataclass(frozen=True)
class Workload:
    """One kind of call timed on both models: rows per call, each side's timings, and their ratio."""

    rows: int
    pull_request: Timings
    baseline: Timings | None
    ratio: RatioInterval | None
    """None exactly when the baseline was not timed."""

    @property
    def calls(self) -> int:
        """Timed calls of each model."""
        return len(self.pull_request.milliseconds)

    def rows_per_second(self, timings: Timings) -> float:
        """Throughput at the median call."""
        return self.rows / (timings.p50 / MILLISECONDS)

    def describe(self, name: str) -> str:
        """One line for the gate's log: each side's median call and, when both were timed, their ratio."""
        line = (
            f"{name} latency p50 over {self.calls} calls of {self.rows} row(s): this PR {self.pull_request.p50:.3f} ms"
        )
        if self.baseline is None or self.ratio is None:
            return f"{line} (baseline not timed)"
        ratio = self.ratio
        return (
            f"{line}, baseline {self.baseline.p50:.3f} ms, PR / baseline {ratio.observed:.3f} "
            f"({ratio.confidence:.0%} interval {ratio.low:.3f} to {ratio.high:.3f}: {ratio.verdict})"
        )


@dataclass(frozen=True)
class ServingCost:
    """The PR's model timed alone or against the baseline's, for one row and for a batch."""

    single_row: Workload
    batch: Workload
    note: str | None
    """Why the baseline was not timed, when it was not."""

    @property
    def workloads(self) -> dict[str, Workload]:
        """Each workload under the name the report and the gate give it."""
        return {"single-row": self.single_row, "batch": self.batch}


def time_in_turn(
    calls: Sequence[Callable[[], object]], repetitions: int, warmup: int, seed: int, clock: Clock
) -> list[Timings]:
    """Time each callable `repetitions` times, one of each per turn, in a seeded random order each turn.

    Taking turns puts a busy moment of the machine on every model alike; a random order keeps one
    model from always running first, and a periodic load from always landing on the same one.
    """
    for _ in range(warmup):
        for call in calls:
            call()
    order = np.random.default_rng(seed)
    elapsed: list[list[float]] = [[] for _ in calls]
    for _ in range(repetitions):
        for index in order.permutation(len(calls)):
            start = clock()
            calls[index]()
            elapsed[index].append((clock() - start) * MILLISECONDS)
    return [Timings(tuple(milliseconds)) for milliseconds in elapsed]


def paired_ratio(
    pull_request: Timings, baseline: Timings, resamples: int, confidence: float, seed: int
) -> RatioInterval:
    """The median over call pairs of PR time / baseline time, with a percentile interval from resampling the pairs.

    A pair is one call of each model in the same turn: what slowed both calls, such as another
    process on the machine, cancels in their ratio, and the median ignores the turns it hit unevenly.
    """
    ratios = np.asarray(pull_request.milliseconds) / np.asarray(baseline.milliseconds)
    resampled = ratios[np.random.default_rng(seed).integers(0, len(ratios), (resamples, len(ratios)))]
    tail = (1 - confidence) / 2
    low, high = np.quantile(np.median(resampled, axis=1), [tail, 1 - tail])
    return RatioInterval(float(np.median(ratios)), float(low), float(high), confidence, resamples)


def measure_workload(
    pull_request: Predict,
    baseline: Predict | None,
    rows: pd.DataFrame,
    repetitions: int,
    settings: ServingCostParams,
    clock: Clock,
) -> Workload:
    """One workload: the PR's model alone, or both models in turn on the same rows, and their time ratio."""
    if baseline is None:
        (alone,) = time_in_turn([lambda: pull_request(rows)], repetitions, settings.warmup_calls, settings.seed, clock)
        return Workload(len(rows), alone, None, None)
    pr, base = time_in_turn(
        [lambda: pull_request(rows), lambda: baseline(rows)], repetitions, settings.warmup_calls, settings.seed, clock
    )
    ratio = paired_ratio(pr, base, settings.resamples, settings.confidence, settings.seed)
    return Workload(len(rows), pr, base, ratio)


def measure(
    pull_request: Predict,
    baseline: Predict | None,
    features: pd.DataFrame,
    settings: ServingCostParams,
    note: str | None = None,
    clock: Clock = time.perf_counter,
) -> ServingCost:
    """Time both models on the same rows: the first feature row, and a batch cycling through the table."""
    batch = features.iloc[np.arange(settings.batch_rows) % len(features)]
    return ServingCost(
        single_row=measure_workload(
            pull_request, baseline, features.iloc[[0]], settings.single_row_calls, settings, clock
        ),
        batch=measure_workload(pull_request, baseline, batch, settings.batch_calls, settings, clock),
        note=note,
    )
