"""A scenario's shifts: refused at load when the schema cannot take them, naming the scenario, the shift and
the column; applied exactly as declared, to whatever columns the schema has."""

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter

from mlloop.config import Params, ScenarioParams
from mlloop.core.schema import FeatureSchema
from mlloop.errors import ConfigError
from mlloop.monitoring.shifts import check_scenarios, logged_days, shift_day

SEED = 11
DAYS = 5
SCHEMA_FILE = Path("schema.yaml")


def _scenario(*shifts: dict[str, Any], expected: str = "drift") -> ScenarioParams:
    return TypeAdapter(ScenarioParams).validate_python({"expected": expected, "shifts": list(shifts)})


def _bounded_number(schema: FeatureSchema) -> str:
    """A non-integer numeric feature with a maximum: the one a scale can push against its ceiling."""
    names = [name for name, f in schema.numeric_features.items() if f.type == "number" and f.max is not None]
    if not names:
        pytest.skip("the schema has no bounded non-integer feature to scale")
    return names[0]


def _integer(schema: FeatureSchema) -> str:
    names = [name for name, f in schema.numeric_features.items() if f.type == "integer" and f.min is not None]
    if not names:
        pytest.skip("the schema has no integer feature with a minimum")
    return names[0]


def _category(schema: FeatureSchema, labels: int = 3) -> str:
    names = [name for name, f in schema.categorical_features.items() if len(f.categories) >= labels]
    if not names:
        pytest.skip(f"the schema has no category with {labels} labels")
    return names[0]


def _shifted(frame: pd.DataFrame, scenario: ScenarioParams, schema: FeatureSchema, day: int = 0) -> pd.DataFrame:
    return shift_day(frame, scenario, schema, day, DAYS, np.random.default_rng(SEED)).features


@pytest.fixture
def rows(schema: FeatureSchema, valid_table: pd.DataFrame) -> pd.DataFrame:
    """Four copies of the valid table's features: enough rows for exact shares."""
    return pd.concat([valid_table[schema.feature_names]] * 4, ignore_index=True)


def test_every_scenario_params_declares_fits_the_schema(params: Params, schema: FeatureSchema) -> None:
    check_scenarios(params.simulate.scenarios, schema, SCHEMA_FILE)


def test_a_shift_on_a_column_the_schema_lacks_names_the_scenario_the_shift_and_the_column(
    schema: FeatureSchema,
) -> None:
    scenarios = {"fine": _scenario(), "typo": _scenario({"kind": "nulls", "column": "no_such_column", "share": 0.1})}

    with pytest.raises(ConfigError) as raised:
        check_scenarios(scenarios, schema, SCHEMA_FILE)

    message = str(raised.value)
    assert message.startswith(
        "simulate.scenarios.typo.shifts[0] (nulls): column 'no_such_column' is not a feature of schema.yaml"
    ), message


def test_every_shift_the_schema_cannot_take_is_listed_at_once_one_line_each(schema: FeatureSchema) -> None:
    number, category = _bounded_number(schema), _category(schema)
    labels = schema.categorical_features[category].categories
    scenarios = {
        "mixed": _scenario(
            {"kind": "scale", "column": category, "factor": 2, "ramp": False},
            {"kind": "offset", "column": number, "by": 1, "ramp": True},
            {"kind": "move_labels", "column": number, "from_labels": ["a"], "to_label": "b", "share": 0.5},
        ),
        "labels": _scenario(
            {"kind": "move_labels", "column": category, "from_labels": [labels[0]], "to_label": "Nowhere", "share": 1},
            {"kind": "unknown_label", "column": category, "label": labels[1], "share": 0.2},
        ),
    }

    with pytest.raises(ConfigError) as raised:
        check_scenarios(scenarios, schema, SCHEMA_FILE)

    assert str(raised.value).splitlines() == [
        f"simulate.scenarios.mixed.shifts[0] (scale): column '{category}' is a category; scale needs a number",
        f"simulate.scenarios.mixed.shifts[2] (move_labels): column '{number}' is a number; labels need a category",
        f"simulate.scenarios.labels.shifts[0] (move_labels): column '{category}' has no label ['Nowhere'] "
        f"(its labels: {labels})",
        f"simulate.scenarios.labels.shifts[1] (unknown_label): label '{labels[1]}' is a label of column "
        f"'{category}', so it is not unknown (move_labels moves rows to a known label)",
    ]


def test_scale_multiplies_the_feature_caps_it_at_the_schema_maximum_and_leaves_the_rest(
    schema: FeatureSchema, rows: pd.DataFrame
) -> None:
    name = _bounded_number(schema)
    ceiling = schema.numeric_features[name].max
    assert ceiling is not None
    near_ceiling = rows.assign(**{name: rows[name].where(rows.index % 2 == 0, 0.95 * ceiling)})

    shifted = _shifted(near_ceiling, _scenario({"kind": "scale", "column": name, "factor": 1.5, "ramp": False}), schema)

    expected = (near_ceiling[name] * 1.5).clip(upper=ceiling)
    pd.testing.assert_series_equal(shifted[name], expected)
    assert (shifted[name] == ceiling).any(), "the rows at 95% of the maximum are capped"
    others = [column for column in schema.feature_names if column != name]
    pd.testing.assert_frame_equal(shifted[others], near_ceiling[others])
    assert not near_ceiling[name].equals(shifted[name]), "the input frame is left as it was"


def test_a_ramping_scale_grows_day_by_day_to_its_whole_factor_on_the_last_day(
    schema: FeatureSchema, rows: pd.DataFrame
) -> None:
    name = _bounded_number(schema)
    small = rows.assign(**{name: rows[name].fillna(0) / 10})
    ramp = _scenario({"kind": "scale", "column": name, "factor": 1.25, "ramp": True})

    means = [_shifted(small, ramp, schema, day)[name].mean() for day in range(DAYS)]

    original = small[name].mean()
    assert means == pytest.approx([original * (1 + 0.25 * (day + 1) / DAYS) for day in range(DAYS)])


def test_an_offset_on_an_integer_feature_stays_whole_and_at_or_above_its_minimum(
    schema: FeatureSchema, rows: pd.DataFrame
) -> None:
    name = _integer(schema)
    floor = schema.numeric_features[name].min

    shifted = _shifted(rows, _scenario({"kind": "offset", "column": name, "by": -2.6, "ramp": False}), schema)

    assert (shifted[name] == (rows[name] - 3).clip(lower=floor)).all(), "rounded to whole, floored at the minimum"
    assert (shifted[name] == floor).any(), "the test rows hold values that the offset takes below the minimum"


def test_move_labels_moves_exactly_the_share_of_the_holders_and_no_one_else(
    schema: FeatureSchema, rows: pd.DataFrame
) -> None:
    name = _category(schema)
    first, second, target = schema.categorical_features[name].categories[:3]
    holders = rows[name].isin([first, second])
    move = {"kind": "move_labels", "column": name, "from_labels": [first, second], "to_label": target, "share": 0.35}

    shifted = _shifted(rows, _scenario(move), schema)

    moved = holders & (shifted[name] == target)
    assert moved.sum() == round(0.35 * holders.sum())
    assert (shifted.loc[~holders, name] == rows.loc[~holders, name]).all(), "rows without those labels stay"
    others = [column for column in schema.feature_names if column != name]
    pd.testing.assert_frame_equal(shifted[others], rows[others])


def test_unknown_label_and_nulls_each_hit_exactly_their_share_of_the_rows(
    schema: FeatureSchema, rows: pd.DataFrame
) -> None:
    category, number = _category(schema), _bounded_number(schema)
    complete = rows.assign(**{number: rows[number].fillna(0)})
    unknown = _scenario({"kind": "unknown_label", "column": category, "label": "Never seen", "share": 0.25})
    nulls = _scenario(
        {"kind": "nulls", "column": number, "share": 0.1}, {"kind": "nulls", "column": category, "share": 0.2}
    )

    relabelled = _shifted(complete, unknown, schema)
    emptied = _shifted(complete, nulls, schema)

    assert (relabelled[category] == "Never seen").sum() == round(0.25 * len(rows))
    assert emptied[number].isna().sum() == round(0.1 * len(rows)), "a tenth of the rows lost their number"
    assert emptied[category].isna().sum() == round(0.2 * len(rows)), "a fifth of the rows lost their label"
    assert complete[[number, category]].notna().all().all(), "the input frame is left as it was"


def test_flipped_outcomes_and_torn_lines_mark_their_share_of_rows_and_change_no_feature(
    schema: FeatureSchema, rows: pd.DataFrame
) -> None:
    scenario = _scenario({"kind": "flip_outcomes", "share": 0.2}, {"kind": "corrupt_lines", "share": 0.05})

    day = shift_day(rows, scenario, schema, 0, DAYS, np.random.default_rng(SEED))

    assert day.flipped.sum() == round(0.2 * len(rows))
    assert day.torn.sum() == round(0.05 * len(rows))
    pd.testing.assert_frame_equal(day.features, rows)


def test_stop_logging_leaves_only_the_first_days_logged() -> None:
    assert logged_days(_scenario({"kind": "stop_logging", "after_day": 3}, expected="stale"), 7) == 3
    assert logged_days(_scenario({"kind": "stop_logging", "after_day": 9}, expected="stale"), 7) == 7
    assert logged_days(_scenario(), 7) == 7
