"""The quality gate: absolute limits, allowed regression against the baseline, latency (this
run's timing of both models) and size. Pure; every rule is reported with its numbers, passed or
not, so a failing check explains itself.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from mlloop.config import GateParams
from mlloop.core.metrics import METRICS
from mlloop.review.serving_cost import ServingCost


@dataclass(frozen=True)
class RuleResult:
    """One gate rule applied to one number."""

    rule: str
    value: float
    limit: float
    passed: bool

    def describe(self) -> str:
        """'PASS rule: value (limit)' with the numbers."""
        value = self.value + 0.0  # turns -0.0 into 0.0
        return f"{'PASS' if self.passed else 'FAIL'} {self.rule}: {value:.10g} (limit {self.limit:.10g})"


@dataclass(frozen=True)
class GateVerdict:
    """Every rule checked, and whether the model may merge."""

    rules: list[RuleResult]
    notes: list[str]

    @property
    def passed(self) -> bool:
        """True when no rule failed."""
        return all(rule.passed for rule in self.rules)

    @property
    def failures(self) -> list[RuleResult]:
        """The rules that failed."""
        return [rule for rule in self.rules if not rule.passed]


TOLERANCE = 1e-12
"""Slack for float rounding: 0.85 - 0.84 is 0.010000000000000009, which must still meet a 0.01 limit."""


def _at_most(rule: str, value: float, limit: float) -> RuleResult:
    return RuleResult(f"{rule} <= {limit:.10g}", value, limit, value <= limit + TOLERANCE)


def _absolute(metric: str, value: float, worst: float) -> RuleResult:
    if METRICS[metric].better == "lower":
        return _at_most(metric, value, worst)
    return RuleResult(f"{metric} >= {worst:.10g}", value, worst, value >= worst - TOLERANCE)


def _latency_rules(settings: GateParams, serving: ServingCost) -> tuple[list[RuleResult], list[str]]:
    """The PR's own latency ceiling, and its slowdown against the baseline timed in the same run.

    A slowdown counts only beyond noise: the rule reads the low end of the ratio's interval.
    """
    rules = [
        _at_most("single-row latency p50 (ms)", serving.single_row.pull_request.p50, settings.max_single_row_latency_ms)
    ]
    for name, workload in serving.workloads.items():
        if workload.ratio is not None:
            rule = f"{name} latency ratio vs baseline ({workload.ratio.confidence:.0%} interval low end)"
            rules.append(_at_most(rule, workload.ratio.low, settings.max_latency_ratio))
    untimed = any(workload.ratio is None for workload in serving.workloads.values())
    notes = ["baseline model not timed: latency ratio rules were not applied"] if untimed else []
    return rules, notes


def evaluate_gate(
    settings: GateParams,
    metrics: Mapping[str, float],
    performance: Mapping[str, float],
    baseline_metrics: Mapping[str, float] | None,
    serving: ServingCost,
) -> GateVerdict:
    """Apply every rule; a rule against the baseline is skipped, with a note, when the baseline lacks its number."""
    rules = [_absolute(metric, metrics[metric], worst) for metric, worst in settings.worst_acceptable.items()]
    notes: list[str] = []
    if baseline_metrics is None:
        notes.append("no baseline metrics: regression rules were not applied")
    else:
        for metric, allowed in settings.max_regression.items():
            if metric not in baseline_metrics:
                notes.append(f"baseline has no {metric}: its regression rule was not applied")
                continue
            regression = -METRICS[metric].improvement(metrics[metric] - baseline_metrics[metric])
            rules.append(_at_most(f"{metric} regression vs baseline", regression, allowed))
    latency_rules, latency_notes = _latency_rules(settings, serving)
    rules += latency_rules
    notes += latency_notes
    rules.append(_at_most("model size (bytes)", performance["model_size_bytes"], settings.max_model_size_bytes))
    return GateVerdict(rules, notes)
