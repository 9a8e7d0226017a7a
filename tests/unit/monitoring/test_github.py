"""Every `gh` failure is one GitHubError line naming the command and GitHub's answer."""

import os
import stat
from pathlib import Path

import pytest

from mlloop.errors import GitHubError
from mlloop.monitoring.github import gh


def test_a_missing_gh_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(GitHubError, match="the GitHub CLI `gh` is not installed"):
        gh("pr", "list")


def test_a_failure_is_one_line_with_the_command_and_githubs_answer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    program = tmp_path / "gh"
    program.write_text(
        "#!/bin/sh\n"
        "printf 'HTTP 403: Resource not accessible by integration\\n(https://api.github.com/graphql)\\n' >&2\n"
        "exit 1\n"
    )
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")

    with pytest.raises(GitHubError) as failed:
        gh("workflow", "run", "pr.yml")

    assert str(failed.value) == (
        "gh workflow run failed: HTTP 403: Resource not accessible by integration (https://api.github.com/graphql)"
    )
