"""
evaluate_gate: absolute limits, allowed regression against the baseline in each metric's
own direction, latency (the PR's own, and its slowdown against the baseline timed in the same
run) and size; every rule carries its numbers, so a failure explains itself.
"""

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.fake_clock import FakeClock

from mlloop.config import GateParams, Params
from mlloop.review.gate import GateVerdict, RuleResult, evaluate_gate
from mlloop.review.serving_cost import RatioInterval, ServingCost, Timings, Workload, measure

# Limits and metrics are dyadic fractions (0.75, 0.0625, ...), exact in binary floating
# point, so "exactly at the limit" below really is exactly at the limit.
SETTINGS = GateParams(
    worst_acceptable={"roc_auc": 0.75, "log_loss": 0.5},
    max_regression={"roc_auc": 0.0625, "log_loss": 0.03125},
    max_single_row_latency_ms=100.0,
    max_latency_ratio=2.0,
    max_model_size_bytes=10_000_000,
)
GOOD_METRICS = {"roc_auc": 0.875, "log_loss": 0.375}
GOOD_PERFORMANCE = {"model_size_bytes": 500_000}
FEATURES = pd.DataFrame({"tenure": [1, 2, 3]})
SAME_SPEED = RatioInterval(observed=1.0, low=0.9375, high=1.0625, confidence=0.95, resamples=1000)


def _serving(
    single_row_p50: float = 12.5,
    single_row: RatioInterval | None = SAME_SPEED,
    batch: RatioInterval | None = SAME_SPEED,
) -> ServingCost:
    """Timings as serving_cost.measure returns them; a None ratio means the baseline was not timed."""

    def workload(rows: int, p50: float, ratio: RatioInterval | None) -> Workload:
        baseline = None if ratio is None else Timings((p50 / ratio.observed,))
        return Workload(rows, Timings((p50,)), baseline, ratio)

    note = None if single_row and batch else "the baseline's model is unavailable"
    return ServingCost(workload(1, single_row_p50, single_row), workload(1000, 20.0, batch), note)


GOOD_SERVING = _serving()

RULES = [
    "roc_auc >= 0.75",
    "log_loss <= 0.5",
    "roc_auc regression vs baseline <= 0.0625",
    "log_loss regression vs baseline <= 0.03125",
    "single-row latency p50 (ms) <= 100",
    "single-row latency ratio vs baseline (95% interval low end) <= 2",
    "batch latency ratio vs baseline (95% interval low end) <= 2",
    "model size (bytes) <= 10000000",
]


def _gate(
    metrics: dict[str, float] | None = None,
    baseline: dict[str, float] | None = None,
    performance: dict[str, float] | None = None,
    settings: GateParams = SETTINGS,
    serving: ServingCost = GOOD_SERVING,
) -> GateVerdict:
    """The gate on good numbers, with the given parts replaced; the baseline defaults to the PR's own metrics."""
    pull_request = GOOD_METRICS | (metrics or {})
    return evaluate_gate(
        settings,
        pull_request,
        GOOD_PERFORMANCE | (performance or {}),
        pull_request | (baseline or {}),
        serving,
    )


def _rule(verdict: GateVerdict, name: str) -> RuleResult:
    matching = [rule for rule in verdict.rules if rule.rule == name]
    assert len(matching) == 1, f"expected one rule {name!r} in {[rule.rule for rule in verdict.rules]}"
    return matching[0]


def test_gate_passes_when_every_rule_holds() -> None:
    verdict = _gate()

    assert verdict.passed
    assert verdict.failures == []
    assert verdict.notes == []
    assert [rule.rule for rule in verdict.rules] == RULES
    assert all(rule.passed for rule in verdict.rules)


@pytest.mark.parametrize(
    ("change", "description"),
    [
        pytest.param(
            {"metrics": {"roc_auc": 0.6875}},
            "FAIL roc_auc >= 0.75: 0.6875 (limit 0.75)",
            id="floor of a higher-is-better metric",
        ),
        pytest.param(
            {"metrics": {"log_loss": 0.5625}},
            "FAIL log_loss <= 0.5: 0.5625 (limit 0.5)",
            id="ceiling of log_loss",
        ),
        pytest.param(
            # roc_auc falls 0.875 -> 0.78125: a regression of 0.09375
            {"metrics": {"roc_auc": 0.78125}, "baseline": {"roc_auc": 0.875}},
            "FAIL roc_auc regression vs baseline <= 0.0625: 0.09375 (limit 0.0625)",
            id="roc_auc regression",
        ),
        pytest.param(
            # log_loss RISES 0.375 -> 0.4375: worse, a regression of 0.0625
            {"metrics": {"log_loss": 0.4375}, "baseline": {"log_loss": 0.375}},
            "FAIL log_loss regression vs baseline <= 0.03125: 0.0625 (limit 0.03125)",
            id="log_loss regression",
        ),
        pytest.param(
            {"serving": _serving(single_row_p50=100.5)},
            "FAIL single-row latency p50 (ms) <= 100: 100.5 (limit 100)",
            id="latency",
        ),
        pytest.param(
            {"serving": _serving(single_row=RatioInterval(3.0, 2.5, 3.5, 0.95, 1000))},
            "FAIL single-row latency ratio vs baseline (95% interval low end) <= 2: 2.5 (limit 2)",
            id="single-row slowdown",
        ),
        pytest.param(
            {"serving": _serving(batch=RatioInterval(3.0, 2.25, 3.75, 0.9, 1000))},
            "FAIL batch latency ratio vs baseline (90% interval low end) <= 2: 2.25 (limit 2)",
            id="batch slowdown",
        ),
        pytest.param(
            {"performance": {"model_size_bytes": 12_500_000}},
            "FAIL model size (bytes) <= 10000000: 12500000 (limit 10000000)",
            id="model size",
        ),
    ],
)
def test_each_rule_fails_alone_on_its_own_threshold_with_its_numbers(change: dict[str, Any], description: str) -> None:
    verdict = _gate(**change)

    assert not verdict.passed
    assert [rule.describe() for rule in verdict.failures] == [description]


def test_a_falling_log_loss_is_an_improvement_not_a_regression() -> None:
    # the mirror image of the failing log_loss case: 0.4375 -> 0.375 is better
    verdict = _gate(metrics={"log_loss": 0.375}, baseline={"log_loss": 0.4375})

    rule = _rule(verdict, "log_loss regression vs baseline <= 0.03125")
    assert rule.passed
    assert rule.value == -0.0625, "a negative regression is an improvement"
    assert verdict.passed


def test_a_rising_roc_auc_is_an_improvement_not_a_regression() -> None:
    verdict = _gate(metrics={"roc_auc": 0.9375}, baseline={"roc_auc": 0.75})

    rule = _rule(verdict, "roc_auc regression vs baseline <= 0.0625")
    assert (rule.value, rule.passed) == (-0.1875, True)


def test_brier_like_log_loss_has_a_ceiling_and_a_rise_is_its_regression() -> None:
    settings = SETTINGS.model_copy(update={"worst_acceptable": {"brier": 0.25}, "max_regression": {"brier": 0.015625}})

    verdict = evaluate_gate(
        settings, {"brier": 0.1875}, GOOD_PERFORMANCE, baseline_metrics={"brier": 0.15625}, serving=GOOD_SERVING
    )

    assert [rule.describe() for rule in verdict.rules[:2]] == [
        "PASS brier <= 0.25: 0.1875 (limit 0.25)",
        "FAIL brier regression vs baseline <= 0.015625: 0.03125 (limit 0.015625)",
    ]


def test_a_value_exactly_at_each_limit_passes() -> None:
    verdict = _gate(
        # roc_auc at its floor, 0.0625 below the baseline; log_loss at its ceiling, 0.03125 above
        metrics={"roc_auc": 0.75, "log_loss": 0.5},
        baseline={"roc_auc": 0.8125, "log_loss": 0.46875},
        performance={"model_size_bytes": 10_000_000},
        serving=_serving(
            single_row_p50=100.0,
            single_row=RatioInterval(2.5, 2.0, 3.0, 0.95, 1000),
            batch=RatioInterval(2.5, 2.0, 3.0, 0.95, 1000),
        ),
    )

    assert [(rule.value, rule.limit) for rule in verdict.rules] == [
        (0.75, 0.75),
        (0.5, 0.5),
        (0.0625, 0.0625),
        (0.03125, 0.03125),
        (100.0, 100.0),
        (2.0, 2.0),
        (2.0, 2.0),
        (10_000_000, 10_000_000),
    ], "every value sits on its limit"
    assert verdict.passed, [rule.describe() for rule in verdict.failures]


def test_a_regression_exactly_at_a_decimal_limit_passes() -> None:
    settings = SETTINGS.model_copy(update={"max_regression": {"roc_auc": 0.01}})

    verdict = _gate(metrics={"roc_auc": 0.84}, baseline={"roc_auc": 0.85}, settings=settings)

    rule = _rule(verdict, "roc_auc regression vs baseline <= 0.01")
    assert rule.passed, rule.describe()


def test_without_baseline_metrics_the_regression_rules_are_absent_and_a_note_says_so() -> None:
    verdict = evaluate_gate(SETTINGS, GOOD_METRICS, GOOD_PERFORMANCE, baseline_metrics=None, serving=GOOD_SERVING)

    assert [rule.rule for rule in verdict.rules] == [rule for rule in RULES if "regression" not in rule]
    assert verdict.notes == ["no baseline metrics: regression rules were not applied"]
    assert verdict.passed


def test_without_baseline_metrics_the_absolute_rules_still_fail() -> None:
    verdict = evaluate_gate(
        SETTINGS, GOOD_METRICS | {"roc_auc": 0.5}, GOOD_PERFORMANCE, baseline_metrics=None, serving=GOOD_SERVING
    )

    assert [rule.rule for rule in verdict.failures] == ["roc_auc >= 0.75"]


def test_a_metric_missing_from_the_baseline_gets_a_note_instead_of_a_rule() -> None:
    # given: an older baseline that never recorded log_loss
    verdict = evaluate_gate(
        SETTINGS, GOOD_METRICS, GOOD_PERFORMANCE, baseline_metrics={"roc_auc": 0.875}, serving=GOOD_SERVING
    )

    names = [rule.rule for rule in verdict.rules]
    assert "roc_auc regression vs baseline <= 0.0625" in names
    assert not any(name.startswith("log_loss regression") for name in names), names
    assert verdict.notes == ["baseline has no log_loss: its regression rule was not applied"]
    assert verdict.passed


def test_failures_lists_only_the_failed_rules_in_order() -> None:
    verdict = _gate(performance={"model_size_bytes": 20_000_000}, serving=_serving(single_row_p50=250.0))

    assert [rule.rule for rule in verdict.failures] == [
        "single-row latency p50 (ms) <= 100",
        "model size (bytes) <= 10000000",
    ]
    assert len(verdict.rules) == len(RULES), "passing rules are still reported"
    assert not verdict.passed


def test_every_rule_is_described_with_pass_or_fail_and_its_numbers() -> None:
    verdict = _gate(metrics={"roc_auc": 0.6875})

    assert [rule.describe() for rule in verdict.rules] == [
        "FAIL roc_auc >= 0.75: 0.6875 (limit 0.75)",
        "PASS log_loss <= 0.5: 0.375 (limit 0.5)",
        "PASS roc_auc regression vs baseline <= 0.0625: 0 (limit 0.0625)",
        "PASS log_loss regression vs baseline <= 0.03125: 0 (limit 0.03125)",
        "PASS single-row latency p50 (ms) <= 100: 12.5 (limit 100)",
        "PASS single-row latency ratio vs baseline (95% interval low end) <= 2: 0.9375 (limit 2)",
        "PASS batch latency ratio vs baseline (95% interval low end) <= 2: 0.9375 (limit 2)",
        "PASS model size (bytes) <= 10000000: 500000 (limit 10000000)",
    ]


def test_describe_never_prints_negative_zero() -> None:
    # given: an unchanged higher-is-better metric, whose regression -(PR - baseline) is -0.0
    verdict = _gate()
    regression = _rule(verdict, "roc_auc regression vs baseline <= 0.0625")
    assert str(regression.value) == "-0.0", "the case this test protects: the value really is negative zero"

    assert regression.describe() == "PASS roc_auc regression vs baseline <= 0.0625: 0 (limit 0.0625)"
    assert RuleResult("x <= 1", -0.0, 1.0, True).describe() == "PASS x <= 1: 0 (limit 1)"
    for rule in verdict.rules:
        assert ": -0 " not in rule.describe(), rule.describe()


def test_a_slowdown_whose_interval_reaches_below_the_limit_passes_as_possible_noise() -> None:
    # given: a median ratio of 2.5 measured so noisily that the interval reaches down to 1.75
    verdict = _gate(serving=_serving(batch=RatioInterval(2.5, 1.75, 3.25, 0.95, 1000)))

    assert _rule(verdict, "batch latency ratio vs baseline (95% interval low end) <= 2").value == 1.75
    assert verdict.passed


def test_without_a_timed_baseline_model_the_ratio_rules_are_skipped_with_a_note() -> None:
    verdict = _gate(serving=_serving(single_row_p50=150.0, single_row=None, batch=None))

    assert [rule.rule for rule in verdict.rules] == [rule for rule in RULES if "ratio" not in rule]
    assert verdict.notes == ["baseline model not timed: latency ratio rules were not applied"]
    assert [rule.rule for rule in verdict.failures] == ["single-row latency p50 (ms) <= 100"], (
        "the PR's own ceiling still applies"
    )


@pytest.mark.parametrize(
    ("baseline_ms", "passes"), [(5.0, False), (15.0, True)], ids=["three times slower", "identical"]
)
def test_a_model_three_times_slower_fails_the_default_ratio_rule_and_an_identical_one_passes(
    params: Params, baseline_ms: float, passes: bool
) -> None:
    # given: the PR's model takes 15 ms a call, with 10% jitter; the default serving-cost and ratio settings
    clock = FakeClock()
    jitter = np.random.default_rng(0)

    def sleeping(milliseconds: float) -> Callable[[pd.DataFrame], None]:
        return lambda _rows: clock.sleep(milliseconds * jitter.uniform(0.9, 1.1))

    serving = measure(sleeping(15.0), sleeping(baseline_ms), FEATURES, params.report.serving_cost, clock=clock)
    default_ratio = SETTINGS.model_copy(update={"max_latency_ratio": params.gate.max_latency_ratio})
    verdict = evaluate_gate(default_ratio, GOOD_METRICS, GOOD_PERFORMANCE, None, serving)

    ratio_rules = [rule for rule in verdict.rules if "ratio" in rule.rule]
    assert len(ratio_rules) == 2
    assert all(rule.passed is passes for rule in ratio_rules), [rule.describe() for rule in ratio_rules]
