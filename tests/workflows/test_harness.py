"""The harness's own contract: a stand-in for each pinned action, GitHub's filter globs, refused flags."""

import re
import subprocess
from pathlib import Path

import pytest

from tests.stand_ins import install
from tests.workflows.harness import PINNED_ACTIONS, STAND_IN_ACTIONS, WORKFLOWS
from tests.workflows.triggers import starts


def test_every_pinned_action_of_the_workflows_has_a_stand_in() -> None:
    pinned = {
        match
        for workflow in WORKFLOWS.glob("*.yml")
        for match in re.findall(r"uses: ([\w.-]+/[\w.-]+@[0-9a-f]{40})", workflow.read_text())
    }
    assert pinned == set(PINNED_ACTIONS), f"without a stand-in: {pinned - set(PINNED_ACTIONS)}"
    assert all((STAND_IN_ACTIONS / folder / "action.yml").is_file() for folder in PINNED_ACTIONS.values())


@pytest.mark.parametrize(
    ("changed", "expected"),
    [(["README.md"], False), (["params.yaml"], True), (["data/sources/x.parquet.dvc"], True), (["src/a/b.py"], True)],
)
def test_a_paths_filter_matches_as_github_globs_do(tmp_path: Path, changed: list[str], expected: bool) -> None:
    workflow = tmp_path / "w.yml"
    workflow.write_text('on:\n  pull_request:\n    paths: ["src/**", "params.yaml", "**.dvc"]\njobs: {}\n')
    assert starts(workflow, "pull_request", "main", changed) is expected


def test_branch_filters_decide_which_pushes_start_a_workflow(tmp_path: Path) -> None:
    workflow = tmp_path / "w.yml"
    workflow.write_text("on:\n  push:\n    branches-ignore: [main]\njobs: {}\n")
    assert starts(workflow, "push", "feature", [])
    assert not starts(workflow, "push", "main", [])
    assert not starts(workflow, "pull_request", "main", [])


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("gh", ["pr", "create", "--head", "b", "--titel", "t"], "unknown flag: --titel"),
        ("gh", ["issue", "list", "--lable", "drift"], "unknown flag: --lable"),
        ("cml", ["comment", "update", "--target=pr", "--watermark", "x", "report.md"], "Unknown argument: watermark"),
        ("docker", ["buildx", "build", "--tags", "x", "."], "unknown flag: --tags"),
    ],
)
def test_a_stand_in_refuses_a_flag_the_real_tool_does_not_have(
    tmp_path: Path, tool: str, arguments: list[str], message: str
) -> None:
    result = subprocess.run(
        [install(tmp_path / tool, tool), *arguments],
        capture_output=True,
        text=True,
        env={"HARNESS_RECORD": str(tmp_path), "GH_TOKEN": "t", "GH_REPO": "o/r", "REPO_TOKEN": "t"},
        check=False,
    )
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
