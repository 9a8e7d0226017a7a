"""git as the tests run it to build repositories: a command that must succeed, as a known author."""

import os
import subprocess
from pathlib import Path

IDENTITY = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}
# A developer's own git config (commit signing, hooks, a default branch) must not change what a test builds.
WITHOUT_USER_CONFIG = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(cwd: Path, *arguments: str) -> str:
    """Run git in `cwd` as IDENTITY, without global or system config; its output, stripped.

    A failure fails the test with git's own complaint.
    """
    result = subprocess.run(
        ["git", *arguments],
        cwd=cwd,
        env=os.environ | IDENTITY | WITHOUT_USER_CONFIG,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"git {' '.join(arguments)} failed in {cwd}: {result.stderr.strip()}")
    return result.stdout.strip()
