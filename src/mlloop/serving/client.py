"""JSON over HTTP to a running service, for the smoke test and the simulator.

Every answer, 4xx and 5xx included, comes back as (status, body parsed as JSON, or its text);
only a service that cannot be reached raises, as the OSError urllib gives.
"""

import json
import urllib.error
import urllib.request
from typing import Any


def call(url: str, body: Any | None, timeout: float) -> tuple[int, Any]:
    """GET `url`, or POST `body` as JSON to it."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    try:
        return status, json.loads(text) if text else None
    except json.JSONDecodeError:
        return status, text
