"""
evaluate_gate: absolute limits, allowed regression against the baseline in each metric's
own direction, latency and size; every rule carries its numbers, so a failure explains itself.
"""

from typing import Any

import pytest

from mlloop.config import GateParams
from mlloop.review.gate import GateVerdict, RuleResult, evaluate_gate

# Limits and metrics are dyadic fractions (0.75, 0.0625, ...), exact in binary floating
# point, so "exactly at the limit" below really is exactly at the limit.
SETTINGS = GateParams(
    worst_acceptable={"roc_auc": 0.75, "log_loss": 0.5},
    max_regression={"roc_auc": 0.0625, "log_loss": 0.03125},
    max_single_row_latency_ms=100.0,
    max_model_size_bytes=10_000_000,
)
GOOD_METRICS = {"roc_auc": 0.875, "log_loss": 0.375}
GOOD_PERFORMANCE = {"single_row_latency_ms_p50": 12.5, "model_size_bytes": 500_000}

RULES = [
    "roc_auc >= 0.75",
    "log_loss <= 0.5",
    "roc_auc regression vs baseline <= 0.0625",
    "log_loss regression vs baseline <= 0.03125",
    "single-row latency p50 (ms) <= 100",
    "model size (bytes) <= 10000000",
]


def _gate(
    metrics: dict[str, float] | None = None,
    baseline: dict[str, float] | None = None,
    performance: dict[str, float] | None = None,
    settings: GateParams = SETTINGS,
) -> GateVerdict:
    """The gate on good numbers, with the given parts replaced; the baseline defaults to the PR's own metrics."""
    pull_request = GOOD_METRICS | (metrics or {})
    return evaluate_gate(
        settings,
        pull_request,
        GOOD_PERFORMANCE | (performance or {}),
        pull_request | (baseline or {}),
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
            {"performance": {"single_row_latency_ms_p50": 100.5}},
            "FAIL single-row latency p50 (ms) <= 100: 100.5 (limit 100)",
            id="latency",
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

    verdict = evaluate_gate(settings, {"brier": 0.1875}, GOOD_PERFORMANCE, baseline_metrics={"brier": 0.15625})

    assert [rule.describe() for rule in verdict.rules[:2]] == [
        "PASS brier <= 0.25: 0.1875 (limit 0.25)",
        "FAIL brier regression vs baseline <= 0.015625: 0.03125 (limit 0.015625)",
    ]


def test_a_value_exactly_at_each_limit_passes() -> None:
    verdict = _gate(
        # roc_auc at its floor, 0.0625 below the baseline; log_loss at its ceiling, 0.03125 above
        metrics={"roc_auc": 0.75, "log_loss": 0.5},
        baseline={"roc_auc": 0.8125, "log_loss": 0.46875},
        performance={"single_row_latency_ms_p50": 100.0, "model_size_bytes": 10_000_000},
    )

    assert [(rule.value, rule.limit) for rule in verdict.rules] == [
        (0.75, 0.75),
        (0.5, 0.5),
        (0.0625, 0.0625),
        (0.03125, 0.03125),
        (100.0, 100.0),
        (10_000_000, 10_000_000),
    ], "every value sits on its limit"
    assert verdict.passed, [rule.describe() for rule in verdict.failures]


def test_a_regression_exactly_at_a_decimal_limit_passes() -> None:
    settings = SETTINGS.model_copy(update={"max_regression": {"roc_auc": 0.01}})

    verdict = _gate(metrics={"roc_auc": 0.84}, baseline={"roc_auc": 0.85}, settings=settings)

    rule = _rule(verdict, "roc_auc regression vs baseline <= 0.01")
    assert rule.passed, rule.describe()


def test_without_baseline_metrics_the_regression_rules_are_absent_and_a_note_says_so() -> None:
    verdict = evaluate_gate(SETTINGS, GOOD_METRICS, GOOD_PERFORMANCE, baseline_metrics=None)

    assert [rule.rule for rule in verdict.rules] == [rule for rule in RULES if "regression" not in rule]
    assert verdict.notes == ["no baseline metrics: regression rules were not applied"]
    assert verdict.passed


def test_without_baseline_metrics_the_absolute_rules_still_fail() -> None:
    verdict = evaluate_gate(SETTINGS, GOOD_METRICS | {"roc_auc": 0.5}, GOOD_PERFORMANCE, baseline_metrics=None)

    assert [rule.rule for rule in verdict.failures] == ["roc_auc >= 0.75"]


def test_a_metric_missing_from_the_baseline_gets_a_note_instead_of_a_rule() -> None:
    # given: an older baseline that never recorded log_loss
    verdict = evaluate_gate(SETTINGS, GOOD_METRICS, GOOD_PERFORMANCE, baseline_metrics={"roc_auc": 0.875})

    names = [rule.rule for rule in verdict.rules]
    assert "roc_auc regression vs baseline <= 0.0625" in names
    assert not any(name.startswith("log_loss regression") for name in names), names
    assert verdict.notes == ["baseline has no log_loss: its regression rule was not applied"]
    assert verdict.passed


def test_failures_lists_only_the_failed_rules_in_order() -> None:
    verdict = _gate(performance={"single_row_latency_ms_p50": 250.0, "model_size_bytes": 20_000_000})

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
