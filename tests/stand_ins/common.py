"""What every recording stand-in binary shares: where it records, and how it refuses a call."""

import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

RECORD_DIRECTORY = "HARNESS_RECORD"
"""The runner's environment names the directory each stand-in appends its calls to (`<tool>.jsonl`)."""


def record(tool: str, entry: dict[str, Any]) -> None:
    """Append one call to the tool's record, for the test to assert on."""
    with (Path(os.environ[RECORD_DIRECTORY]) / f"{tool}.jsonl").open("a") as log:
        log.write(json.dumps(entry) + "\n")


def recorded(directory: Path, tool: str) -> list[dict[str, Any]]:
    """Every call the stand-in for `tool` recorded in `directory`, in order."""
    path = directory / f"{tool}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def fail(tool: str, message: str, code: int = 1) -> NoReturn:
    """Exit as the real tool does on a usage error, after recording the refusal."""
    record(tool, {"refused": message, "argv": sys.argv[1:]})
    print(f"{tool}: {message}", file=sys.stderr)
    sys.exit(code)
