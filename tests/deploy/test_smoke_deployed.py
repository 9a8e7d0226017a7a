"""`make smoke-deployed`: the smoke test of a deployed environment, run from the runner through
`kubectl port-forward`, since the Service is ClusterIP and no Ingress gives it an address a runner
could call. A recording kubectl stand-in forwards to a stand-in service on loopback.
"""

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from tests.stub_http import JsonHandler, serving

from mlloop.errors import SmokeFailedError

PROJECT = Path(__file__).resolve().parents[2]
KUBECTL = Path(__file__).parent / "stand_ins" / "kubectl"
ANSWER = {"churn_probability": 0.2, "threshold": 0.5, "churn": False, "model_version": "churn_model:abc"}


class _Service(JsonHandler):
    """Answers the smoke test's four checks as the real service does; refuses a non-numeric value."""

    ready = HTTPStatus.OK

    def do_GET(self) -> None:
        self.answer(self.ready if self.path == "/readyz" else HTTPStatus.NOT_FOUND, {})

    def do_POST(self) -> None:
        body: dict[str, Any] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/predict_batch":
            self.answer(HTTPStatus.OK, {"predictions": [ANSWER for _ in body["customers"]]})
        elif "not a value" in body.values():
            self.answer(HTTPStatus.BAD_REQUEST, {"error": "not a number"})
        else:
            self.answer(HTTPStatus.OK, ANSWER)


class _NotReady(_Service):
    ready = HTTPStatus.SERVICE_UNAVAILABLE


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    for name in ("Makefile", "params.yaml", "schema.yaml"):
        shutil.copy(PROJECT / name, tmp_path)
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])
    return tmp_path


def _smoke_deployed(workspace: Path, service_url: str) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    """`make smoke-deployed` for staging against a cluster whose Service forwards to `service_url`."""
    cluster, record = workspace / "cluster.json", workspace / "record.jsonl"
    cluster.write_text(json.dumps({"revision": 1, "service": service_url.removeprefix("http://")}))
    result = subprocess.run(
        ["make", "smoke-deployed", "-o", ".venv/.synced", "DEPLOY_ENV=staging", f"KUBECTL={KUBECTL}"],
        cwd=workspace,
        env={"PATH": "/usr/bin:/bin", "HOME": str(workspace), "KUBECTL_CLUSTER": str(cluster)}
        | {"STAND_IN_RECORD": str(record)},
        capture_output=True,
        text=True,
    )
    calls = [entry["arguments"] for entry in map(json.loads, record.read_text().splitlines())]
    return result, calls


@pytest.fixture
def service() -> Iterator[str]:
    with serving(_Service) as url:
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
