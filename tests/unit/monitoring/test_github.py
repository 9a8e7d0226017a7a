"""Every `gh` failure is one GitHubError line naming the command and GitHub's answer."""

from pathlib import Path

import pytest
from tests.stand_ins.scripted_gh import ScriptedGh

from mlloop.errors import GitHubError
from mlloop.monitoring import github


def test_a_missing_gh_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(GitHubError, match="the GitHub CLI `gh` is not installed"):
        github.gh("pr", "list")


def test_a_failure_is_one_line_with_the_command_and_githubs_answer(gh: ScriptedGh) -> None:
    answer = "HTTP 403: Resource not accessible by integration\n(https://api.github.com/graphql)\n"
    gh.answer("workflow run", stderr=answer, exit=1)

    with pytest.raises(GitHubError) as failed:
        github.gh("workflow", "run", "pr.yml")

    assert str(failed.value) == (
        "gh workflow run failed: HTTP 403: Resource not accessible by integration (https://api.github.com/graphql)"
    )
