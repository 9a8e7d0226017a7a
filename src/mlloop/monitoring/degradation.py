"""Realised outcomes: is the model worse on production's delayed labels than the gate allows?

Each metric of params `drift.outcomes.metrics` is scored by the metric registry on the labelled
rows, at the model's threshold, and held to the quality gate's own limits: `gate.worst_acceptable`,
and the held-out value in metrics.json worsened by more than `gate.max_regression`. A few hundred
labelled rows are noisy, so a limit counts as broken only when even the better end of the metric's
one-sided confidence interval breaks it; with fewer than `drift.min_labelled_rows` rows nothing is
judged. Pure: labelled rows (as outcome_cells) and numbers in, typed metrics and reasons out.
"""

import math
from collections.abc import Mapping
from statistics import NormalDist

import numpy as np

from mlloop.config import DriftParams, GateParams, OutcomeParams
from mlloop.core.metrics import METRICS, Metric
from mlloop.monitoring.drift_result import Realised, RealisedMetric
from mlloop.monitoring.outcome_cells import OutcomeCells


def broken_limits(metric: RealisedMetric, value: float) -> list[str]:
    """The gate's limits that `value` of this metric breaks, in words with their numbers."""
    better = METRICS[metric.name].improvement
    broken = []
    if metric.worst_acceptable is not None and better(value - metric.worst_acceptable) < 0:
        broken.append(f"worse than gate.worst_acceptable {metric.worst_acceptable:.4g}")
    regression = None if metric.test is None else -better(value - metric.test)
    if regression is not None and metric.max_regression is not None and regression > metric.max_regression:
        broken.append(
            f"worse than the held-out {metric.test:.4f} by more than gate.max_regression {metric.max_regression:.4g}"
        )
    return broken


def _bound(metric: Metric, value: float, cells: OutcomeCells, threshold: float, outcomes: OutcomeParams) -> float:
    """The better end of the value's one-sided confidence interval, under a normal approximation.

    The standard error is bootstrapped on resamples of at most max_bootstrap_rows rows and scaled to
    all the rows (it shrinks as one over the root of the rows), so its cost stays flat as labels pile up.
    A resample draws rows: row i of the cells laid end to end, in their order.
    """
    rng = np.random.default_rng(outcomes.seed)
    rows = cells.rows
    ends = np.cumsum(cells.counts)
    size = min(rows, outcomes.max_bootstrap_rows)
    scores = []
    for _ in range(outcomes.resamples):
        sample = np.searchsorted(ends, rng.integers(0, rows, size=size), side="right")
        labels = cells.outcomes[sample]
        if labels.min() != labels.max():  # a metric of one class is undefined
            scores.append(metric.compute(labels, cells.probabilities[sample], threshold))
    standard_error = float(np.std(scores, ddof=1)) * math.sqrt(size / rows)
    margin = NormalDist().inv_cdf(outcomes.confidence) * standard_error
    return value + margin if metric.better == "higher" else value - margin


def realised_metrics(
    cells: OutcomeCells,
    test_metrics: Mapping[str, float],
    threshold: float,
    drift: DriftParams,
    gate: GateParams,
) -> list[RealisedMetric]:
    """Each outcome metric on the labelled rows with its gate limits; none without rows of both classes.

    The bound is computed only on enough rows and when the value itself breaks a limit: a value
    within its limits is within them at the better end of its interval too.
    """
    if not len(cells.outcomes) or cells.outcomes.min() == cells.outcomes.max():
        return []
    metrics = []
    for name in drift.outcomes.metrics:
        registered = METRICS[name]
        value = registered.compute(cells.outcomes, cells.probabilities, threshold, cells.counts)
        metric = RealisedMetric(
            name=name,
            value=value,
            bound=None,
            test=test_metrics.get(name),
            worst_acceptable=gate.worst_acceptable.get(name),
            max_regression=gate.max_regression.get(name),
        )
        if cells.rows >= drift.min_labelled_rows and broken_limits(metric, value):
            bound = _bound(registered, value, cells, threshold, drift.outcomes)
            metric = metric.model_copy(update={"bound": bound})
        metrics.append(metric)
    return metrics


def degraded_reasons(realised: Realised | None, drift: DriftParams) -> list[str]:
    """Why the check is `degraded`: each metric that breaks a gate limit at the better end of its interval."""
    if realised is None or realised.rows < drift.min_labelled_rows:
        return []
    reasons = []
    for metric in realised.metrics:
        broken = broken_limits(metric, metric.bound) if metric.bound is not None else []
        if broken:
            reasons.append(
                f"realised {metric.name} {metric.value:.4f} on {realised.rows} labelled rows, {metric.bound:.4f} at "
                f"the better end of its {drift.outcomes.confidence:.0%} one-sided interval, is {' and '.join(broken)}"
            )
    return reasons
