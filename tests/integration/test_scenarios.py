"""Every scenario params.yaml declares reaches its declared status through `mlloop simulate` and
`mlloop drift`, on the pipeline reproduced from the project's own params, schema and source; and the
check from summaries judges each as the check of every line does (`--exact`)."""

from pathlib import Path

import pytest
import yaml

from mlloop.config import load_params
from tests.integration.repository import PROJECT
from tests.integration.simulated_check import check_both_ways, reproduce, simulate_and_check, write_params

pytestmark = pytest.mark.integration

SCENARIOS = load_params(PROJECT / "params.yaml").simulate.scenarios


@pytest.fixture(scope="module")
def project_params(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's params with every output in a temporary directory, its pipeline run there."""
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    source = PROJECT / params["data"]["source"]
    if source.is_file():
        params["data"]["source"] = str(source)
    params["data"]["schema_file"] = str(PROJECT / params["data"]["schema_file"])
    path = write_params(params, tmp_path_factory.mktemp("project") / "params.yaml")
    reproduce(path)
    return path


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_declared_scenario_reaches_its_expected_status_through_simulate_and_drift(
    project_params: Path, name: str
) -> None:
    expected = SCENARIOS[name].expected

    result = simulate_and_check(project_params, name)

    assert result.status == expected, f"{name}: {result.status} ({'; '.join(result.reasons)}), expected {expected}"


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_declared_scenario_is_judged_alike_from_summaries_and_line_by_line(
    project_params: Path, name: str
) -> None:
    summarised, exact = check_both_ways(project_params, name)

    assert summarised.status == exact.status == SCENARIOS[name].expected
    assert summarised.findings == exact.findings, "the same reasons, word for word"
    assert (summarised.contract, summarised.realised, summarised.rows) == (exact.contract, exact.realised, exact.rows)
    assert (summarised.window, summarised.model_versions) == (exact.window, exact.model_versions)
    tolerance = load_params(PROJECT / "params.yaml").drift.summaries.tolerance
    scores = {column.name: column for column in exact.columns}
    for column in summarised.columns:
        theirs = scores[column.name]
        assert column.drifted_by == theirs.drifted_by, column.name
        for score, allowed in (("wasserstein", tolerance.wasserstein), ("psi", tolerance.psi)):
            ours, exactly = getattr(column.scores, score), getattr(theirs.scores, score)
            assert (ours is None) == (exactly is None), (column.name, score)
            if ours is not None:
                assert abs(ours - exactly) <= allowed, (column.name, score, ours, exactly)
