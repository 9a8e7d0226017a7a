"""The deployed service as the smoke test reaches it (SERVICE_URL): healthy, or broken after a bad release."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any

from tests.stub_http import JsonHandler, serving

PREDICTION = {"churn_probability": 0.25, "churn": False, "threshold": 0.5, "model_version": "churn@v0.1.0"}


class HealthyService(JsonHandler):
    """Answers as the churn service does: ready, one prediction, a batch, and 400 for a bad value."""

    def do_GET(self) -> None:
        self.answer(HTTPStatus.OK if self.path == "/readyz" else HTTPStatus.NOT_FOUND, {})

    def do_POST(self) -> None:
        body: Any = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        if self.path == "/predict_batch":
            self.answer(HTTPStatus.OK, {"predictions": [PREDICTION for _ in body["customers"]]})
        elif any(value == "not a value" for value in body.values()):
            self.answer(HTTPStatus.BAD_REQUEST, {"error": "not a value"})
        else:
            self.answer(HTTPStatus.OK, PREDICTION)


class BrokenService(JsonHandler):
    """A release that starts but cannot serve: every call is a 500."""

    def do_GET(self) -> None:
        self.answer(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "model failed to load"})

    def do_POST(self) -> None:
        self.do_GET()


@contextmanager
def deployed_service(healthy: bool) -> Iterator[str]:
    """The service's URL on loopback for the block."""
    with serving(HealthyService if healthy else BrokenService) as url:
        yield url
