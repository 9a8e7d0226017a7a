"""How the stand-ins of GitHub's clients (gh, cml) reach the GitHub API stand-in (GITHUB_API_URL)."""

import json
import os
import urllib.error
import urllib.request
from typing import Any

from tests.stand_ins.common import fail


def call_api(tool: str, method: str, path: str, token: str, body: Any = None) -> Any:
    """One REST call to the API stand-in (GITHUB_API_URL); an error status fails the tool as the real one would."""
    request = urllib.request.Request(
        os.environ["GITHUB_API_URL"].rstrip("/") + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"token {token}", "Accept": "application/vnd.github+json"},
    )
    try:
        with urllib.request.urlopen(request) as response:
            payload = response.read()
    except urllib.error.HTTPError as error:
        fail(tool, f"HTTP {error.code}: {error.read().decode()} ({method} {path})")
    return json.loads(payload) if payload else None
