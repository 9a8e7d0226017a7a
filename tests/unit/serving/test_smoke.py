"""`mlloop smoke` waits for each answer as long as the service may take, serve.request_timeout_seconds,
and no longer: a hung service fails the smoke test instead of hanging it."""

import time
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest
import yaml
from tests.stub_http import JsonHandler, serving

from mlloop.cli import main
from mlloop.config import Params

DELAY_SECONDS = 0.5
"""How long the stub takes to answer /readyz."""


class _SlowReadiness(JsonHandler):
    """A service that is ready after DELAY_SECONDS and knows no other path."""

    def do_GET(self) -> None:
        time.sleep(DELAY_SECONDS)
        status = HTTPStatus.OK if self.path == "/readyz" else HTTPStatus.NOT_FOUND
        self.answer(status, {"status": status.phrase})

    def do_POST(self) -> None:
        self.answer(HTTPStatus.NOT_FOUND, {"status": HTTPStatus.NOT_FOUND.phrase})


@pytest.fixture
def slow_service() -> Iterator[str]:
    with serving(_SlowReadiness) as url:
        yield url


def _params_file(params: Params, request_timeout_seconds: float, directory: Path) -> Path:
    serve = params.serve.model_copy(update={"request_timeout_seconds": request_timeout_seconds})
    path = directory / "params.yaml"
    path.write_text(yaml.safe_dump(params.model_copy(update={"serve": serve}).model_dump(mode="json")))
    return path


def test_a_service_slower_than_the_request_timeout_fails_the_smoke_test(
    params: Params, slow_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--params", str(_params_file(params, 0.1, tmp_path)), "smoke", "--url", slow_service])

    assert code == 6
    err = capsys.readouterr().err
    assert f"{slow_service}/readyz: cannot connect (timed out)" in err, err


def test_a_service_within_the_request_timeout_gets_its_answer_waited_for(
    params: Params, slow_service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--params", str(_params_file(params, 5.0, tmp_path)), "smoke", "--url", slow_service])

    assert code == 6, "the stub knows no /predict"
    err = capsys.readouterr().err
    assert f"POST {slow_service}/predict answers 200" in err, f"readiness must have passed, after its wait: {err}"
