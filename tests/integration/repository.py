"""Helpers for tests that run git, dvc and make for real in a temporary copy of the repository."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.git_cli import IDENTITY

PROJECT = Path(__file__).resolve().parents[2]


def _environment() -> dict[str, str]:
    tools = str(Path(sys.executable).parent)
    return os.environ | {
        "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "BENTOML_DO_NOT_TRACK": "true",
        **IDENTITY,
    }


def run(command: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command the way a user would, returning its output for assertions."""
    result = subprocess.run(command, cwd=cwd, env=_environment(), capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{command} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def stages_run(output: str) -> set[str]:
    """The stages dvc says it ran."""
    return set(re.findall(r"Running stage '([^']+)'", output))


def copy_repository(destination: Path) -> None:
    """Copy the working tree as git sees it (tracked and unignored files) into a new git repo."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in filter(None, listed.split("\0")):
        source = PROJECT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    run(["git", "init", "--quiet", "--initial-branch=main"], destination)
    run(["git", "add", "--all"], destination)
    run(["git", "commit", "--quiet", "--message", "copy"], destination)
