"""A job that calls a workflow of this repository names it `./.github/workflows/<file>`, a file that
declares `on: workflow_call`. The schema check accepts any string there. `./` is the form both GitHub
and act (which runs the workflows offline in tests/workflows) load; act 0.2.89 refuses GitHub's newer
`$/` self-repository syntax and the whole calling workflow with it, so no job of it would run."""

from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((PROJECT / ".github" / "workflows").glob("*.yml"))


def _document(workflow: Path) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(workflow.read_text())
    return document


def _triggers(document: dict[Any, Any]) -> set[str]:
    """The events of `on:`, which YAML 1.1 reads as the key True."""
    triggers = document.get("on", document.get(True))
    if isinstance(triggers, str):
        return {triggers}
    return set(triggers or ())


def _local_calls() -> list[tuple[str, str, str]]:
    """(workflow, job, uses) for each job that calls a workflow without `@ref`, i.e. one of this repository."""
    return [
        (workflow.name, name, job["uses"])
        for workflow in WORKFLOWS
        for name, job in _document(workflow)["jobs"].items()
        if "uses" in job and "@" not in job["uses"]
    ]


def test_deploy_calls_the_ci_workflow_for_its_tests() -> None:
    assert ("deploy.yml", "test", "./.github/workflows/ci.yml") in _local_calls()


@pytest.mark.parametrize(("workflow", "job", "uses"), _local_calls(), ids=lambda value: str(value))
def test_a_called_local_workflow_starts_with_dot_slash_and_accepts_workflow_call(
    workflow: str, job: str, uses: str
) -> None:
    assert uses.startswith("./.github/workflows/"), f"{workflow} job {job}: {uses!r} must start with ./"
    called = PROJECT / uses
    assert called.is_file(), f"{workflow} job {job}: {uses} does not exist"
    assert "workflow_call" in _triggers(_document(called)), f"{uses} has no `on: workflow_call`"
