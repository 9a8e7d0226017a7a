"""The schema as the contract of every inference-log line, whoever wrote it.

The log is read from an object store other services may write to, so a line that breaks the
schema is counted against its feature and rule, never silently dropped: a null share above the
feature's max_null_fraction, a value out of its range, of the wrong type or fractional for an
integer, a label it does not have; and, for the line as a whole, a line that cannot be read.
`violations` finds them in one file's rows (log_window counts them and quotes example lines);
`breaches` says which counts over the window are more than params `drift.contract` allows.
"""

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlloop.config import ContractParams
from mlloop.core.schema import FeatureSchema
from mlloop.monitoring.drift_result import ContractBreach, ContractRule, ExampleLine

if TYPE_CHECKING:  # pandas costs a second to import; the check that merges summaries never needs it
    import pandas as pd

LINE = "(line)"
"""The `feature` of the rule `unreadable`: the line as a whole."""


@dataclass
class RuleCount:
    """One feature's lines that broke one rule over the window: how many, the first few, the values seen."""

    count: int = 0
    examples: list[ExampleLine] = field(default_factory=list)
    values: Counter[str] = field(default_factory=Counter)
    """The labels the schema lacks (categories) or the JSON types (type) seen, with their counts."""
    extreme: float | None = None
    """The lowest value below min (min), the highest above max (max)."""


@dataclass
class ContractCounts:
    """Every rule broken over the window, by feature and rule, and the lines and rows they are shares of."""

    lines: int = 0
    """Every non-blank line read: rows and unreadable lines."""
    rows: int = 0
    rules: dict[tuple[str, ContractRule], RuleCount] = field(default_factory=dict)

    def count(self, feature: str, rule: ContractRule) -> RuleCount:
        """The count of a feature's rule, started at zero the first time."""
        return self.rules.setdefault((feature, rule), RuleCount())


def violations(
    rows: "pa.Table | pd.DataFrame", schema: FeatureSchema, wrong_types: Mapping[str, np.ndarray]
) -> Iterator[tuple[str, ContractRule, np.ndarray]]:
    """Each feature's rows (a boolean mask) that break each rule of the schema; column by column, as Arrow
    and numpy arrays (a pandas frame is converted), since the rows of a production log are millions.

    `wrong_types` marks, per feature, the rows whose value had the wrong JSON type (read as null):
    they break `type`, not `max_null_fraction`. A NaN is a null, as pandas reads it.
    """
    table = rows if isinstance(rows, pa.Table) else pa.table(rows)
    categorical = schema.categorical_features
    for name in schema.features:
        wrong = wrong_types.get(name, np.zeros(len(table), dtype=bool))
        yield name, "type", wrong
        if name in categorical:
            labels = table[name]
            present = pc.is_valid(labels).to_numpy(zero_copy_only=False)
            yield name, "max_null_fraction", ~present & ~wrong
            known = pc.is_in(labels, value_set=pa.array(categorical[name].categories, pa.string()))
            yield name, "categories", present & ~known.to_numpy(zero_copy_only=False)
            continue
        values = np.asarray(table[name].to_numpy(zero_copy_only=False), dtype=float)
        present = ~np.isnan(values)
        yield name, "max_null_fraction", ~present & ~wrong
        numeric = schema.numeric_features[name]
        if numeric.min is not None:
            yield name, "min", values < numeric.min
        if numeric.max is not None:
            yield name, "max", values > numeric.max
        if numeric.type == "integer":
            with np.errstate(invalid="ignore"):  # an infinite value has no remainder: fractional, as pandas says
                fractional = np.remainder(values, 1) != 0
            yield name, "whole_number", present & fractional


def _limit(feature: str, rule: ContractRule, schema: FeatureSchema, contract: ContractParams) -> float:
    if rule == "unreadable":
        return contract.max_unreadable_share
    if rule == "max_null_fraction":
        return schema.features[feature].max_null_fraction + contract.null_tolerance
    if rule == "categories":
        return contract.max_unknown_label_share
    return contract.max_invalid_share


def _detail(feature: str, rule: ContractRule, count: RuleCount, schema: FeatureSchema, contract: ContractParams) -> str:
    """What broke the rule, in words: the values seen (as long as a quoted line at most), the bound crossed."""
    commonest = sorted(count.values.items(), key=lambda item: (-item[1], item[0]))[: contract.examples]
    values = ", ".join(f"{value[: contract.example_chars]} ({times})" for value, times in commonest)
    if rule == "unreadable":
        return "not a JSON object with a features object and a numeric churn_probability"
    declared = schema.features[feature]
    if rule == "categories":
        return f"labels the schema does not have: {values}"
    if rule == "type":
        return f"{'a string' if declared.type == 'category' else 'a number'} expected, got {values}"
    if rule in ("min", "max"):
        side, extreme = ("below", "lowest") if rule == "min" else ("above", "highest")
        seen = f"; {extreme} seen {count.extreme:g}" if count.extreme is not None else ""
        return f"{side} the schema's {rule} {getattr(declared, rule, None)}{seen}"
    if rule == "whole_number":
        return "fractional values in an integer feature"
    return f"null or missing; the schema allows {declared.max_null_fraction:.2%}"


def breaches(counts: ContractCounts, schema: FeatureSchema, contract: ContractParams) -> list[ContractBreach]:
    """The rules broken on a larger share of lines than params allow, the largest share over its limit first."""
    found = []
    for (feature, rule), count in counts.rules.items():
        total = counts.lines if rule == "unreadable" else counts.rows
        if not count.count or not total:
            continue
        share, limit = count.count / total, _limit(feature, rule, schema, contract)
        if share > limit:
            found.append(
                ContractBreach(
                    feature=feature,
                    rule=rule,
                    count=count.count,
                    share=share,
                    limit=limit,
                    detail=_detail(feature, rule, count, schema, contract),
                    examples=count.examples,
                )
            )
    return sorted(found, key=lambda breach: breach.share - breach.limit, reverse=True)
