"""Stand-in HTTP services on loopback, for the clients of a running service (smoke test, simulator)."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREDICTION = {"churn_probability": 0.25, "churn": False, "threshold": 0.5, "model_version": "churn@v0.1.0"}


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler that answers JSON and keeps the test output quiet."""

    def answer(self, status: HTTPStatus, body: Any) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


class HealthyService(JsonHandler):
    """Answers as the churn service does: ready, one prediction, a batch, and 400 for a bad value."""

    def do_GET(self) -> None:
        self.answer(HTTPStatus.OK if self.path == "/readyz" else HTTPStatus.NOT_FOUND, {})

    def do_POST(self) -> None:
        body: Any = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        if self.path == "/predict_batch":
            self.answer(HTTPStatus.OK, {"predictions": [PREDICTION for _ in body["customers"]]})
        elif "not a value" in body.values():
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
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on a free loopback port for the block; its base URL, without a trailing slash."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
