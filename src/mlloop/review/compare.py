"""Compare a pull request's model with its baseline: metric deltas with their direction,
the params and stages that changed, and the test rows both models scored (core.bootstrap pairs them).
Pure functions; report.py gathers their inputs, and baseline.py reads them from git and DVC.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from mlloop.core.metrics import improvement

Verdict = Literal["better", "worse", "unchanged", "new", "removed"]


@dataclass(frozen=True)
class MetricRow:
    """One metric, before and after."""

    metric: str
    baseline: float | None
    pull_request: float | None

    @property
    def delta(self) -> float | None:
        """PR minus baseline, when both exist."""
        if self.baseline is None or self.pull_request is None:
            return None
        return self.pull_request - self.baseline

    @property
    def verdict(self) -> Verdict:
        """Better or worse in the metric's own direction."""
        if self.baseline is None:
            return "new"
        if self.pull_request is None:
            return "removed"
        signed = improvement(self.metric, self.pull_request - self.baseline)
        return "better" if signed > 0 else "worse" if signed < 0 else "unchanged"


def compare_metrics(baseline: Mapping[str, float], pull_request: Mapping[str, float]) -> list[MetricRow]:
    """One row per metric in either side, in the PR's order, then any the PR dropped."""
    names = [*pull_request, *(name for name in baseline if name not in pull_request)]
    return [MetricRow(name, baseline.get(name), pull_request.get(name)) for name in names]


def flatten(document: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys, so a params diff can name exactly what changed."""
    flat: dict[str, Any] = {}
    for key, value in document.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat |= flatten(value, f"{dotted}.")
        else:
            flat[dotted] = value
    return flat


class Absent:
    """Marks a params key missing on one side, as distinct from a key set to null."""

    def __repr__(self) -> str:
        return "(absent)"


ABSENT = Absent()


@dataclass(frozen=True)
class ParamChange:
    """One params key whose value differs; ABSENT on a side means the key is not there."""

    key: str
    baseline: Any
    pull_request: Any


def params_diff(baseline: Mapping[str, Any], pull_request: Mapping[str, Any]) -> list[ParamChange]:
    """Only the keys whose values changed, were added or were removed, sorted by key."""
    before, after = flatten(baseline), flatten(pull_request)
    return [
        ParamChange(key, before.get(key, ABSENT), after.get(key, ABSENT))
        for key in sorted(before.keys() | after.keys())
        if before.get(key, ABSENT) != after.get(key, ABSENT)
    ]


def changed_stages(baseline_lock: Mapping[str, Any], pull_request_lock: Mapping[str, Any]) -> list[str]:
    """Stages whose recorded command, dependencies, params or outputs differ between two dvc.lock files."""
    before = baseline_lock.get("stages", {})
    after = pull_request_lock.get("stages", {})
    return [name for name in [*after, *(n for n in before if n not in after)] if before.get(name) != after.get(name)]


def paired_predictions(baseline: pd.DataFrame, pull_request: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """Rows scored by both models, matched by id; the label comes from the PR's test set.

    Ids of different types are matched by their text: folding production rows into the training
    data (`mlloop fold-in`) makes the PR's ids strings, while the baseline's may still be numbers.
    """
    scored = baseline[[id_column, "churn_probability"]]
    if scored[id_column].dtype != pull_request[id_column].dtype:
        scored = scored.assign(**{id_column: scored[id_column].astype(str)})
        pull_request = pull_request.assign(**{id_column: pull_request[id_column].astype(str)})
    merged = pull_request.merge(scored, on=id_column, suffixes=("", "_baseline"), validate="one_to_one")
    return merged.rename(columns={"churn_probability": "pull_request", "churn_probability_baseline": "baseline"})
