"""`kubectl port-forward` for the smoke test of a deployed Service: the URL of the port kubectl reports,
for as long as the block runs and no longer; a kubectl that cannot forward, or says nothing, is a
SmokeFailedError with its reason, not a hang. kubectl is the recording stand-in (tests/stand_ins/kubectl.py)."""

import json
import socket
import urllib.request
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from tests.stand_ins import install
from tests.stand_ins.common import RECORD_DIRECTORY
from tests.stand_ins.kubectl import deployment, save_cluster, save_services
from tests.stub_http import JsonHandler, serving

from mlloop.cli import build_parser
from mlloop.errors import SmokeFailedError
from mlloop.serving.port_forward import forwarded

SERVICE = "mlloop-staging/churn-service"


class _Ready(JsonHandler):
    def do_GET(self) -> None:
        self.answer(HTTPStatus.OK, {"path": self.path})


@pytest.fixture
def records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The stand-in's cluster: the Deployment runs, and no Service is there to forward to until a test places one."""
    records = tmp_path / "records"
    records.mkdir()
    save_cluster(records, {SERVICE: deployment({})})
    monkeypatch.setenv(RECORD_DIRECTORY, str(records))
    return records


@pytest.fixture
def kubectl(records: Path) -> str:
    return str(install(records / "kubectl", "kubectl"))


@pytest.fixture
def service(records: Path) -> Iterator[str]:
    with serving(_Ready) as url:
        save_services(records, {SERVICE: url})
        yield url


def _get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def _refuses_connections(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "", parts.port or 0), timeout=2):
            return False
    except OSError:
        return True


@pytest.mark.usefixtures("service")
def test_the_forwarded_url_reaches_the_service_while_the_block_runs_and_then_closes(kubectl: str) -> None:
    with forwarded(SERVICE, kubectl, timeout_seconds=10) as url:
        answer = _get_json(f"{url}/readyz")

    assert answer == {"path": "/readyz"}
    assert url.startswith("http://127.0.0.1:")
    assert _refuses_connections(url), "kubectl port-forward is stopped with the block"


def test_a_kubectl_that_cannot_forward_fails_the_smoke_test_with_its_reason(kubectl: str) -> None:
    with (
        pytest.raises(SmokeFailedError, match=f"kubectl port-forward to {SERVICE} failed: .*unable to forward port"),
        forwarded(SERVICE, kubectl, timeout_seconds=10),
    ):
        pytest.fail("no URL without a forwarded port")


def test_a_kubectl_that_never_reports_a_port_fails_after_the_timeout(tmp_path: Path) -> None:
    silent = tmp_path / "kubectl"
    silent.write_text("#!/bin/sh\nexec sleep 60\n")
    silent.chmod(0o755)

    with (
        pytest.raises(SmokeFailedError, match=r"forwarded no port within 0\.5 s"),
        forwarded(SERVICE, str(silent), timeout_seconds=0.5),
    ):
        pytest.fail("no URL without a forwarded port")


def test_a_missing_kubectl_is_named(tmp_path: Path) -> None:
    with (
        pytest.raises(SmokeFailedError, match=r"cannot run .*/no-kubectl to reach mlloop-staging/churn-service"),
        forwarded(SERVICE, str(tmp_path / "no-kubectl"), timeout_seconds=1),
    ):
        pytest.fail("no URL without kubectl")


@pytest.mark.parametrize("service", ["churn-service", "mlloop-staging/", "Mlloop/churn", "a/b/c"])
def test_the_service_to_smoke_must_be_namespace_slash_name(service: str) -> None:
    with pytest.raises(SystemExit) as raised:
        build_parser().parse_args(["smoke", "--service", service])

    assert raised.value.code == 2


def test_the_smoke_test_takes_a_url_or_a_service_not_both() -> None:
    with pytest.raises(SystemExit) as raised:
        build_parser().parse_args(["smoke", "--url", "http://127.0.0.1:3000", "--service", SERVICE])

    assert raised.value.code == 2
