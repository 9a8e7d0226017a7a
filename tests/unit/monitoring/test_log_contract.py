"""The schema as the contract of every log line: which rows break which rule of a feature, and when the
counts over a window are a breach. Nulls are held to the feature's max_null_fraction plus
`drift.contract.null_tolerance`; values out of range, of the wrong type or fractional for an integer
to `max_invalid_share`; unknown labels to `max_unknown_label_share`; unreadable lines, a share of all
lines, to `max_unreadable_share`. Each breach names the feature, the rule, the share against its limit
and what was seen."""

import numpy as np
import pandas as pd
import pytest

from mlloop.config import ContractParams, Params
from mlloop.core.schema import FeatureSchema
from mlloop.monitoring.drift_result import ContractRule, ExampleLine
from mlloop.monitoring.log_contract import LINE, ContractCounts, breaches, violations
from mlloop.serving.smoke import example_customer


def _frame(schema: FeatureSchema, rows: list[dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame([example_customer(schema) | row for row in rows])[schema.feature_names]


def _broken(
    frame: pd.DataFrame, schema: FeatureSchema, wrong: dict[str, np.ndarray] | None = None
) -> dict[tuple[str, ContractRule], list[int]]:
    return {
        (feature, rule): np.flatnonzero(mask).tolist()
        for feature, rule, mask in violations(frame, schema, wrong or {})
        if mask.any()
    }


def test_rows_within_the_schema_break_nothing(schema: FeatureSchema) -> None:
    assert _broken(_frame(schema, [{}, {"tenure": 72, "total_charges": None}]), schema) == {
        ("total_charges", "max_null_fraction"): [1]
    }, "a null is counted, even where allowed: the share decides"


def test_each_rule_marks_the_rows_that_break_it(schema: FeatureSchema) -> None:
    frame = _frame(
        schema,
        [
            {"tenure": -1},
            {"tenure": 121, "senior_citizen": 0.5},
            {"contract": "Lifetime", "payment_method": None},
            {"monthly_charges": np.nan},
        ],
    )

    assert _broken(frame, schema) == {
        ("tenure", "min"): [0],
        ("tenure", "max"): [1],
        ("senior_citizen", "whole_number"): [1],
        ("contract", "categories"): [2],
        ("payment_method", "max_null_fraction"): [2],
        ("monthly_charges", "max_null_fraction"): [3],
    }


def test_a_value_of_the_wrong_type_breaks_type_and_is_not_also_a_null(schema: FeatureSchema) -> None:
    frame = _frame(schema, [{"tenure": None}, {"tenure": None}])

    broken = _broken(frame, schema, {"tenure": np.array([True, False])})

    assert broken == {("tenure", "type"): [0], ("tenure", "max_null_fraction"): [1]}


def _counts(rows: int, lines: int, **broken: int) -> ContractCounts:
    """Counts over a window: `feature__rule=count` for each rule broken."""
    counts = ContractCounts(lines=lines, rows=rows)
    for key, count in broken.items():
        feature, rule = key.split("__")
        counts.count(feature, rule).count = count  # type: ignore[arg-type]
    return counts


@pytest.mark.parametrize(
    ("feature", "rule", "at_limit", "limit"),
    [
        ("total_charges", "max_null_fraction", 20, 0.02),  # 1 % allowed + 1 % tolerance
        ("tenure", "max_null_fraction", 10, 0.01),  # none allowed + 1 % tolerance
        ("payment_method", "categories", 10, 0.01),
        ("tenure", "max", 0, 0.0),  # no value out of range at all
    ],
)
def test_a_share_at_its_limit_passes_and_one_line_more_breaks_it(
    schema: FeatureSchema, params: Params, feature: str, rule: ContractRule, at_limit: int, limit: float
) -> None:
    at = _counts(1000, 1000, **{f"{feature}__{rule}": at_limit})
    over = _counts(1000, 1000, **{f"{feature}__{rule}": at_limit + 1})

    assert breaches(at, schema, params.drift.contract) == []
    (breach,) = breaches(over, schema, params.drift.contract)
    assert (breach.feature, breach.rule, breach.count) == (feature, rule, at_limit + 1)
    assert breach.share == pytest.approx((at_limit + 1) / 1000)
    assert breach.limit == pytest.approx(limit)


def test_unreadable_lines_are_a_share_of_every_line_not_of_the_readable_rows(
    schema: FeatureSchema, params: Params
) -> None:
    # Given 30 unreadable lines: 3 % of 1,000 lines, but 3.1 % of the 970 readable rows
    counts = _counts(970, 1000, **{f"{LINE}__unreadable": 30})

    (breach,) = breaches(counts, schema, params.drift.contract)

    assert (breach.feature, breach.rule) == (LINE, "unreadable")
    assert breach.share == pytest.approx(0.03)
    assert breach.detail == "not a JSON object with a features object and a numeric churn_probability"


def test_each_breach_says_what_was_seen(schema: FeatureSchema, params: Params) -> None:
    counts = _counts(100, 100, tenure__min=2, tenure__max=1, tenure__type=3, contract__categories=40)
    counts.rules["tenure", "min"].extreme = -7.0
    counts.rules["tenure", "max"].extreme = 300.0
    counts.rules["tenure", "type"].values.update({"string": 2, "boolean": 1})
    counts.rules["contract", "categories"].values.update({"Lifetime": 30, "Weekly": 10})

    details = {
        (breach.feature, breach.rule): breach.detail for breach in breaches(counts, schema, params.drift.contract)
    }

    assert details == {
        ("tenure", "min"): "below the schema's min 0.0; lowest seen -7",
        ("tenure", "max"): "above the schema's max 120.0; highest seen 300",
        ("tenure", "type"): "a number expected, got string (2), boolean (1)",
        ("contract", "categories"): "labels the schema does not have: Lifetime (30), Weekly (10)",
    }


def test_breaches_come_furthest_over_their_limit_first_with_their_example_lines(
    schema: FeatureSchema, params: Params
) -> None:
    counts = _counts(1000, 1000, total_charges__max_null_fraction=100, contract__categories=500)
    example = ExampleLine(file="a.jsonl", line=3, text="{}")
    counts.rules["contract", "categories"].examples.append(example)

    found = breaches(counts, schema, params.drift.contract)

    assert [(breach.feature, breach.rule) for breach in found] == [
        ("contract", "categories"),
        ("total_charges", "max_null_fraction"),
    ]
    assert found[0].examples == [example]


def test_the_limits_follow_the_params_they_are_given(schema: FeatureSchema) -> None:
    lenient = ContractParams(
        null_tolerance=0.5,
        max_invalid_share=0.5,
        max_unknown_label_share=0.5,
        max_unreadable_share=0.5,
        examples=1,
        example_chars=100,
    )
    counts = _counts(100, 100, tenure__max_null_fraction=40, tenure__max=40, contract__categories=40)

    assert breaches(counts, schema, lenient) == []


def test_an_empty_window_breaks_nothing(schema: FeatureSchema, params: Params) -> None:
    assert breaches(ContractCounts(), schema, params.drift.contract) == []
