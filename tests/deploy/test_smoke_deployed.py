"""`make smoke-deployed`: the smoke test of a deployed environment, run from the runner through
`kubectl port-forward`, since the Service is ClusterIP and no Ingress gives it an address a runner
could call. The recording kubectl stand-in forwards to a stand-in service on loopback.
"""

import shutil
import subprocess
import sys
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest
from tests.stand_ins import install
from tests.stand_ins.common import RECORD_DIRECTORY, recorded
from tests.stand_ins.kubectl import deployment, save_cluster, save_services
from tests.stub_http import HealthyService, serving

from mlloop.errors import SmokeFailedError

PROJECT = Path(__file__).resolve().parents[2]
STAGING = "mlloop-staging/churn-service"


class _NotReady(HealthyService):
    def do_GET(self) -> None:
        self.answer(HTTPStatus.SERVICE_UNAVAILABLE, {})


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    for name in ("Makefile", "params.yaml", "schema.yaml"):
        shutil.copy(PROJECT / name, tmp_path)
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])
    return tmp_path


def _smoke_deployed(workspace: Path, service_url: str) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    """`make smoke-deployed` for staging against a cluster whose Service forwards to `service_url`."""
    records = workspace / "records"
    records.mkdir()
    save_cluster(records, {STAGING: deployment({})})
    save_services(records, {STAGING: service_url})
    kubectl = install(workspace / "kubectl", "kubectl")
    result = subprocess.run(
        ["make", "smoke-deployed", "-o", ".venv/.synced", "DEPLOY_ENV=staging", f"KUBECTL={kubectl}"],
        cwd=workspace,
        env={"PATH": "/usr/bin:/bin", "HOME": str(workspace), RECORD_DIRECTORY: str(records)},
        capture_output=True,
        text=True,
    )
    return result, [call["argv"] for call in recorded(records, "kubectl")]


@pytest.fixture
def service() -> Iterator[str]:
    with serving(HealthyService) as url:
        yield url


@pytest.fixture
def unready_service() -> Iterator[str]:
    with serving(_NotReady) as url:
        yield url


def test_the_smoke_test_reaches_the_staging_service_through_a_port_forward(workspace: Path, service: str) -> None:
    result, calls = _smoke_deployed(workspace, service)

    assert result.returncode == 0, result.stdout + result.stderr
    assert calls == [
        ["port-forward", "--namespace", "mlloop-staging", "--address", "127.0.0.1", "service/churn-service", ":http"]
    ]
    assert "ok  ready" in result.stdout
    assert "ok  bad request refused with 400" in result.stdout


def test_a_service_that_is_not_ready_fails_the_smoke_test(workspace: Path, unready_service: str) -> None:
    result, _ = _smoke_deployed(workspace, unready_service)

    assert result.returncode != 0
    assert "mlloop smoke: error: GET http://127.0.0.1:" in result.stderr
    assert "/readyz answers 200" in result.stderr
    assert f"Error {SmokeFailedError.exit_code}" in result.stderr, "make reports mlloop's exit code"
