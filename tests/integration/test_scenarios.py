"""Every scenario params.yaml declares reaches its declared status through `mlloop simulate` and
`mlloop drift`, on the pipeline reproduced from the project's own params, schema and source."""

from pathlib import Path

import pytest
import yaml

from mlloop.cli import main
from mlloop.config import load_params
from mlloop.monitoring.drift_result import read_result
from tests.integration.repository import PROJECT

pytestmark = pytest.mark.integration

SCENARIOS = load_params(PROJECT / "params.yaml").simulate.scenarios


@pytest.fixture(scope="module")
def project_params(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's params with every output in a temporary directory, its pipeline run there.

    Evaluation measures less (one importance repeat, a few latency calls): the model and its
    predictions, which the drift check reads, are the same.
    """
    directory = tmp_path_factory.mktemp("project")
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    source = PROJECT / params["data"]["source"]
    if source.is_file():
        params["data"]["source"] = str(source)
    params["data"]["schema_file"] = str(PROJECT / params["data"]["schema_file"])
    params["evaluate"]["importance"]["repeats"] = 1
    params["evaluate"]["latency"] = {"single_row_calls": 2, "batch_rows": 10, "batch_calls": 1}
    path = directory / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(directory)
        for stage in ("ingest", "validate", "split", "train", "evaluate"):
            assert main(["--params", str(path), stage]) == 0, stage
    return path


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_declared_scenario_reaches_its_expected_status_through_simulate_and_drift(
    project_params: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = SCENARIOS[name].expected
    monkeypatch.chdir(project_params.parent)
    params = str(project_params)

    simulated = main(["--params", params, "simulate", "--scenario", name, "--out", f"log-{name}"])
    checked = main(["--params", params, "drift", "--current", f"log-{name}", "--out", f"drift-{name}"])

    assert (simulated, checked) == (0, 0)
    result = read_result(project_params.parent / f"drift-{name}")
    assert result.status == expected, f"{name}: {result.status} ({'; '.join(result.reasons)}), expected {expected}"
