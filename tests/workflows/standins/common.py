"""What every recording stand-in binary shares: where it records, and how it calls the GitHub API stand-in."""

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, NoReturn

RECORD_DIRECTORY = "HARNESS_RECORD"
"""The runner's environment names the directory each stand-in appends its calls to (`<tool>.jsonl`)."""


def record(tool: str, entry: dict[str, Any]) -> None:
    """Append one call to the tool's record, for the test to assert on."""
    with (Path(os.environ[RECORD_DIRECTORY]) / f"{tool}.jsonl").open("a") as log:
        log.write(json.dumps(entry) + "\n")


def fail(tool: str, message: str, code: int = 1) -> NoReturn:
    """Exit as the real tool does on a usage error, after recording the refusal."""
    record(tool, {"refused": message, "argv": sys.argv[1:]})
    print(f"{tool}: {message}", file=sys.stderr)
    sys.exit(code)


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
