"""The scenarios params.yaml declares in simulate.scenarios, found by the status each must reach.

A test that takes one kind of traffic through the drift check (a drift, a broken contract, a silent log,
decayed outcomes) runs the first scenario the project declares with that `expected` status, so it holds
on whatever table the project reads: scenarios are the user's to declare, over their own columns. When
params.yaml declares none, the test skips and says which status to declare; it never passes silently.
"""

from typing import TypeVar

import pytest
from pydantic import BaseModel

from mlloop.config import Params, ScenarioParams, Status

ShiftKind = TypeVar("ShiftKind", bound=BaseModel)


def shifts_of(scenario: ScenarioParams, kind: type[ShiftKind]) -> list[ShiftKind]:
    """The scenario's shifts of one kind (a class of mlloop.config, such as ColumnShift), in order."""
    return [shift for shift in scenario.shifts if isinstance(shift, kind)]


def declared_scenario(
    params: Params, expected: Status, with_shift: type[BaseModel] | None = None
) -> tuple[str, ScenarioParams]:
    """The name and declaration of the first scenario whose `expected` status is this one (and, given
    `with_shift`, that has a shift of that kind); a skip naming params.yaml and the status when none is."""
    for name, scenario in params.simulate.scenarios.items():
        if scenario.expected == expected and (with_shift is None or shifts_of(scenario, with_shift)):
            return name, scenario
    among = f" with a {with_shift.__name__} shift (mlloop.config)" if with_shift else ""
    pytest.skip(
        f"params.yaml declares no scenario of expected status {expected}{among} in simulate.scenarios"
        f" ({', '.join(params.simulate.scenarios)}): declare one to test this (README, Declaring a scenario)"
    )
