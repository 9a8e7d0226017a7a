"""
validate_table: every schema rule, checked at once; each failure names the column, the rule,
how many rows broke it and a few of the offending values.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd
import pytest

from mlloop.core.schema import FeatureSchema
from mlloop.pipeline.data import RuleFailure, ValidationReport, validate_table

EVERY_ROW: Literal["every row"] = "every row"


def _failures_on(report: ValidationReport, column: str, rule: str) -> RuleFailure:
    """The single failure reported for `column` whose rule name contains `rule`."""
    matching = [f for f in report.failures if f.column == column and rule in f.rule]
    assert len(matching) == 1, f"expected one {rule!r} failure on {column!r}, got {report.failures}"
    return matching[0]


def _with_values(column: str, rows: list[int] | slice, value: Any) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """A change that writes `value` into `column` at `rows`, as an object column so any type fits."""

    def change(table: pd.DataFrame) -> pd.DataFrame:
        table[column] = table[column].astype(object)
        table.loc[rows, column] = value
        return table

    return change


def _drop_column(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=["tenure"])


def _add_unknown_column(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(loyalty_points=7)


def _fractional_tenure(table: pd.DataFrame) -> pd.DataFrame:
    table["tenure"] = table["tenure"].astype("float64")
    table.loc[[0, 1], "tenure"] = [2.5, 4.5]
    return table


def _below_minimum_tenure(table: pd.DataFrame) -> pd.DataFrame:
    table.loc[[0, 1, 2], "tenure"] = [-1, -1, -3]
    return table


def _duplicate_first_id(table: pd.DataFrame) -> pd.DataFrame:
    table.loc[1, "customer_id"] = int(table["customer_id"].iloc[0])
    return table


def _mostly_null_total_charges(table: pd.DataFrame) -> pd.DataFrame:
    """Exactly the first 60 rows null: the fixture's own null is filled first."""
    table["total_charges"] = table["total_charges"].fillna(0.0)
    table.loc[:59, "total_charges"] = None
    return table


@dataclass(frozen=True)
class BrokenRule:
    """One way to break the valid table, and the failure the report must then contain."""

    change: Callable[[pd.DataFrame], pd.DataFrame]
    column: str
    rule: str
    bad_rows: int | Literal["every row"]
    examples: list[Any] = field(default_factory=list)


BROKEN_RULES = [
    pytest.param(BrokenRule(_drop_column, "tenure", "required_column", EVERY_ROW), id="missing required column"),
    pytest.param(
        BrokenRule(_add_unknown_column, "loyalty_points", "no_unknown_columns", EVERY_ROW),
        id="unknown extra column",
    ),
    pytest.param(
        BrokenRule(_with_values("tenure", [3], "abc"), "tenure", "coerce_dtype", 1, ["abc"]),
        id="uncoercible value in a numeric column",
    ),
    pytest.param(
        BrokenRule(_fractional_tenure, "tenure", "whole_number", 2, [2.5, 4.5]),
        id="fractional value in an integer column",
    ),
    pytest.param(
        BrokenRule(_below_minimum_tenure, "tenure", "greater_than_or_equal_to", 3, [-1, -3]),
        id="integer below min",
    ),
    pytest.param(
        BrokenRule(_with_values("tenure", [5], 121), "tenure", "less_than_or_equal_to", 1, [121]),
        id="integer above max",
    ),
    pytest.param(
        BrokenRule(
            _with_values("monthly_charges", [5], 1000.5),
            "monthly_charges",
            "less_than_or_equal_to",
            1,
            [1000.5],
        ),
        id="number above max",
    ),
    pytest.param(
        BrokenRule(_with_values("contract", [0, 9], "Three year"), "contract", "isin", 2, ["Three year"]),
        id="unknown category",
    ),
    pytest.param(
        BrokenRule(_with_values("tenure", [4], None), "tenure", "not_nullable", 1, [None]),
        id="null in a non-nullable number",
    ),
    pytest.param(
        BrokenRule(_with_values("contract", [4], None), "contract", "not_nullable", 1, [None]),
        id="null in a non-nullable category",
    ),
    pytest.param(
        BrokenRule(
            _mostly_null_total_charges,
            "total_charges",
            "max_null_fraction",
            60,
            [f"row {index}" for index in range(5)],
        ),
        id="null fraction above max_null_fraction",
    ),
    pytest.param(
        BrokenRule(_duplicate_first_id, "customer_id", "field_uniqueness", 2, [1]), id="duplicate customer id"
    ),
    pytest.param(BrokenRule(_with_values("churn", [2], "Maybe"), "churn", "isin", 1, ["Maybe"]), id="bad label"),
    pytest.param(BrokenRule(_with_values("churn", [2], None), "churn", "not_nullable", 1, [None]), id="null label"),
    pytest.param(
        BrokenRule(_with_values("churn", slice(None), "No"), "churn", "both_classes_present", EVERY_ROW, ["No"]),
        id="label with a single class",
    ),
]


def test_valid_table_passes_with_a_complete_report(schema: FeatureSchema, valid_table: pd.DataFrame) -> None:
    # when
    report = validate_table(valid_table, schema)

    # then
    assert report.passed, [failure.message() for failure in report.failures]
    document = report.to_json()
    assert document["status"] == "passed"
    assert document["rows"] == len(valid_table)
    assert document["columns"] == len(valid_table.columns)
    assert document["null_counts"] == {"total_charges": 1}, "only columns holding nulls are listed"
    assert document["failures"] == []


def test_validation_does_not_change_the_table(schema: FeatureSchema, valid_table: pd.DataFrame) -> None:
    before = valid_table.copy()

    validate_table(valid_table, schema)

    pd.testing.assert_frame_equal(valid_table, before)


@pytest.mark.parametrize("broken", BROKEN_RULES)
def test_each_broken_rule_is_reported_with_column_rule_count_and_examples(
    schema: FeatureSchema, valid_table: pd.DataFrame, broken: BrokenRule
) -> None:
    # given
    table = broken.change(valid_table.copy())
    expected_rows = len(table) if broken.bad_rows == EVERY_ROW else broken.bad_rows

    # when
    report = validate_table(table, schema)

    # then
    assert not report.passed
    assert {f.column for f in report.failures} == {broken.column}, "only the broken column may be blamed"
    failure = _failures_on(report, broken.column, broken.rule)
    assert failure.bad_rows == expected_rows, failure
    assert failure.examples == broken.examples, failure
    message = failure.message()
    assert repr(broken.column) in message, message
    assert failure.rule in message, message
    assert f"{expected_rows} row(s)" in message, message
    assert all(repr(example) in message for example in broken.examples), message
    document = report.to_json()
    assert document["status"] == "failed"
    assert message in [entry["message"] for entry in document["failures"]]
    json.dumps(document)  # the report must be writable as JSON as it is


def test_too_many_nulls_fail_the_null_fraction_rule_of_that_column(
    schema: FeatureSchema, valid_table: pd.DataFrame
) -> None:
    # given: most total charges are missing, as from a broken export
    table = _mostly_null_total_charges(valid_table.copy())

    # when
    report = validate_table(table, schema)

    # then
    failure = _failures_on(report, "total_charges", "max_null_fraction")
    assert "0.01" in failure.rule, "the rule should show the allowed fraction"
    assert "'total_charges'" in failure.message()


def test_examples_of_an_uncoercible_value_are_values_from_the_table(
    schema: FeatureSchema, valid_table: pd.DataFrame
) -> None:
    table = _with_values("tenure", [3], "abc")(valid_table.copy())

    report = validate_table(table, schema)

    values_in_column = set(table["tenure"])
    for failure in report.failures:
        assert set(failure.examples) <= values_in_column, failure.message()


def test_examples_are_capped_at_five_distinct_values(schema: FeatureSchema, valid_table: pd.DataFrame) -> None:
    table = valid_table.copy()
    table.loc[:7, "contract"] = [f"Plan {number}" for number in range(8)]

    failure = _failures_on(validate_table(table, schema), "contract", "isin")

    assert failure.bad_rows == 8
    assert failure.examples == [f"Plan {number}" for number in range(5)]


def test_several_broken_rules_are_all_reported_in_one_run(schema: FeatureSchema, valid_table: pd.DataFrame) -> None:
    # given: five different rules broken in five different columns
    table = valid_table.drop(columns=["dependents"]).assign(loyalty_points=7)
    table.loc[0, "contract"] = "Three year"
    table.loc[1, "female"] = 2
    table.loc[2, "churn"] = "Maybe"

    # when
    report = validate_table(table, schema)

    # then: lazy validation, not just the first problem
    reported = {(failure.column, failure.rule.split("(")[0]) for failure in report.failures}
    assert reported == {
        ("dependents", "required_column"),
        ("loyalty_points", "no_unknown_columns"),
        ("contract", "isin"),
        ("female", "less_than_or_equal_to"),
        ("churn", "isin"),
    }
