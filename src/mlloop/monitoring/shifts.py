"""A scenario's shifts, as params.yaml declares them: checked against the schema before any traffic,
then applied to each simulated day's rows in the order declared, every draw from one generator.

Nothing here names a column: each shift names its own, and the schema types it. A number a shift
changes stays within the schema's range and an integer stays whole, so scaling or offsetting a
feature is a drift, never a breach of the contract; the shifts that break the contract (nulls,
unknown labels, corrupt lines) do so on purpose.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mlloop.config import (
    ColumnShift,
    CorruptLines,
    FlipOutcomes,
    MoveLabels,
    Nulls,
    Offset,
    Scale,
    ScenarioParams,
    Shift,
    StopLogging,
    UnknownLabel,
)
from mlloop.core.schema import CategoricalFeature, FeatureSchema, NumericFeature
from mlloop.errors import ConfigError


def _column_problems(shift: ColumnShift, schema: FeatureSchema, schema_file: Path) -> list[str]:
    feature = schema.features.get(shift.column)
    if feature is None:
        return [f"column {shift.column!r} is not a feature of {schema_file} ({', '.join(schema.feature_names)})"]
    if isinstance(shift, Scale | Offset) and not isinstance(feature, NumericFeature):
        return [f"column {shift.column!r} is a category; {shift.kind} needs a number"]
    if isinstance(shift, MoveLabels | UnknownLabel):
        if not isinstance(feature, CategoricalFeature):
            return [f"column {shift.column!r} is a number; labels need a category"]
        if isinstance(shift, MoveLabels):
            missing = [label for label in [*shift.from_labels, shift.to_label] if label not in feature.categories]
            if missing:
                return [f"column {shift.column!r} has no label {missing} (its labels: {feature.categories})"]
        elif shift.label in feature.categories:
            return [
                f"label {shift.label!r} is a label of column {shift.column!r}, so it is not unknown "
                "(move_labels moves rows to a known label)"
            ]
    return []


def scenario_problems(name: str, scenario: ScenarioParams, schema: FeatureSchema, schema_file: Path) -> list[str]:
    """Each shift the schema cannot take, one line each, naming the scenario, the shift and the column."""
    problems = []
    for index, shift in enumerate(scenario.shifts):
        if isinstance(shift, ColumnShift):
            where = f"simulate.scenarios.{name}.shifts[{index}] ({shift.kind})"
            problems += [f"{where}: {problem}" for problem in _column_problems(shift, schema, schema_file)]
    return problems


def check_scenarios(scenarios: dict[str, ScenarioParams], schema: FeatureSchema, schema_file: Path) -> None:
    """Every declared scenario against the schema, before any traffic: one ConfigError lists every problem."""
    problems = [
        problem
        for name, scenario in scenarios.items()
        for problem in scenario_problems(name, scenario, schema, schema_file)
    ]
    if problems:
        raise ConfigError("\n".join(problems))


def logged_days(scenario: ScenarioParams, days: int) -> int:
    """How many of the days are logged: all, unless a stop_logging shift silences the rest."""
    stops = [shift.after_day for shift in scenario.shifts if isinstance(shift, StopLogging)]
    return min([days, *stops])


@dataclass(frozen=True)
class ShiftedDay:
    """One day's rows after the shifts, and what the log writer does besides logging them."""

    features: pd.DataFrame
    flipped: NDArray[np.bool_]
    """Rows whose delayed outcome is the opposite of the model's prediction rather than the real one."""
    torn: NDArray[np.bool_]
    """Rows whose line is preceded in the log by a torn copy of itself."""


def _drawn(
    rows: int, share: float, rng: np.random.Generator, among: NDArray[np.intp] | None = None
) -> NDArray[np.intp]:
    """round(share x candidates) distinct rows, drawn from `among` (every row by default)."""
    candidates = np.arange(rows) if among is None else among
    return rng.choice(candidates, size=round(share * len(candidates)), replace=False)


def _mask(rows: int, chosen: NDArray[np.intp]) -> NDArray[np.bool_]:
    mask = np.zeros(rows, dtype=bool)
    mask[chosen] = True
    return mask


def _numeric(values: pd.Series, feature: NumericFeature) -> pd.Series:
    """Whole for an integer feature, and within the schema's range."""
    if feature.type == "integer":
        values = values.round()
    return values.clip(feature.min, feature.max)


def _relabelled(values: pd.Series, rows: NDArray[np.intp], label: str) -> NDArray[np.object_]:
    relabelled = values.to_numpy(dtype=object, copy=True)
    relabelled[rows] = label
    return relabelled


def _shift_column(
    frame: pd.DataFrame, shift: Shift, schema: FeatureSchema, progress: float, rng: np.random.Generator
) -> pd.DataFrame:
    """One feature shift applied; `progress` is the share of a ramping change reached today."""
    match shift:
        case Scale(column=column, factor=factor, ramp=ramp):
            today = 1 + (factor - 1) * (progress if ramp else 1)
            return frame.assign(**{column: _numeric(frame[column] * today, schema.numeric_features[column])})
        case Offset(column=column, by=by, ramp=ramp):
            today = by * (progress if ramp else 1)
            return frame.assign(**{column: _numeric(frame[column] + today, schema.numeric_features[column])})
        case MoveLabels(column=column, from_labels=from_labels, to_label=to_label, share=share):
            holders = np.flatnonzero(frame[column].isin(from_labels).to_numpy())
            moved = _drawn(len(frame), share, rng, holders)
            return frame.assign(**{column: _relabelled(frame[column], moved, to_label)})
        case UnknownLabel(column=column, label=label, share=share):
            return frame.assign(**{column: _relabelled(frame[column], _drawn(len(frame), share, rng), label)})
        case Nulls(column=column, share=share):
            emptied = _mask(len(frame), _drawn(len(frame), share, rng))
            return frame.assign(**{column: frame[column].mask(emptied)})
    return frame


def shift_day(
    rows: pd.DataFrame, scenario: ScenarioParams, schema: FeatureSchema, day: int, days: int, rng: np.random.Generator
) -> ShiftedDay:
    """The scenario's shifts on one day's rows (`day` 0-based of `days`); the input frame is left as it was."""
    features = rows
    flipped = torn = np.zeros(len(rows), dtype=bool)
    progress = (day + 1) / days
    for shift in scenario.shifts:
        if isinstance(shift, FlipOutcomes):
            flipped = flipped | _mask(len(rows), _drawn(len(rows), shift.share, rng))
        elif isinstance(shift, CorruptLines):
            torn = torn | _mask(len(rows), _drawn(len(rows), shift.share, rng))
        else:
            features = _shift_column(features, shift, schema, progress, rng)
    return ShiftedDay(features=features, flipped=flipped, torn=torn)
