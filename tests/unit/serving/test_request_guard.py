"""The request guard answers 415, 411 and 413 itself and lets every other request through."""

import asyncio
import json
from typing import Any

import pytest

from mlloop.serving.request_guard import RequestGuard

LIMIT = 1000


def _call(method: str, path: str, headers: dict[str, str]) -> tuple[int, Any, bool]:
    """Send one request through the guard; return (status, JSON body, whether the app was reached)."""
    reached: list[bool] = []
    sent: list[dict[str, Any]] = []

    async def app(_scope: Any, _receive: Any, send: Any) -> None:
        reached.append(True)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": [(key.encode(), value.encode()) for key, value in headers.items()],
    }
    asyncio.run(RequestGuard(app, frozenset({"/predict"}), LIMIT)(scope, receive, send))
    return sent[0]["status"], json.loads(sent[1]["body"]), bool(reached)


@pytest.mark.parametrize(
    ("headers", "status", "kind"),
    [
        pytest.param({"content-type": "text/plain", "content-length": "3"}, 415, "unsupported_media_type", id="text"),
        pytest.param({"content-type": "multipart/form-data", "content-length": "3"}, 415, "unsupported_media_type"),
        pytest.param({"content-type": "application/json"}, 411, "length_required", id="no length"),
        pytest.param({"content-type": "application/json", "content-length": "1001"}, 413, "body_too_large", id="big"),
    ],
)
def test_refused_requests_never_reach_the_app(headers: dict[str, str], status: int, kind: str) -> None:
    answered, body, reached = _call("POST", "/predict", headers)
    assert (answered, body["detail"][0]["type"], reached) == (status, kind, False)


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        pytest.param("POST", "/predict", {"content-type": "application/json; charset=utf-8", "content-length": "1000"}),
        pytest.param("GET", "/readyz", {}, id="other method and path"),
        pytest.param("POST", "/other", {"content-type": "text/plain"}, id="unguarded path"),
    ],
)
def test_acceptable_and_unguarded_requests_pass_through(method: str, path: str, headers: dict[str, str]) -> None:
    assert _call(method, path, headers) == (200, {}, True)
