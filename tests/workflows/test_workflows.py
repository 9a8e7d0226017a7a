"""Offline checks of .github/workflows: schema, security audit, and that every step's command exists."""

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlloop.cli import build_parser
from tests.stand_ins.cml import COMMENT_OPTIONS as CML_COMMENT_OPTIONS

PROJECT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((PROJECT / ".github" / "workflows").glob("*.yml"))
TOOLS = Path(sys.executable).parent


def _steps(workflow: Path) -> list[dict[str, Any]]:
    document = yaml.safe_load(workflow.read_text())
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]  # a called workflow has none


def _run_commands() -> list[tuple[str, str]]:
    return [(workflow.name, step["run"]) for workflow in WORKFLOWS for step in _steps(workflow) if "run" in step]


def test_there_are_workflows_to_check() -> None:
    assert {workflow.name for workflow in WORKFLOWS} >= {"ci.yml", "pr.yml", "deploy.yml", "drift.yml"}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_workflow_matches_the_github_workflow_schema(workflow: Path) -> None:
    result = subprocess.run(
        [TOOLS / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", workflow],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_finds_nothing_even_when_pedantic() -> None:
    result = subprocess.run(
        [TOOLS / "zizmor", "--offline", "--persona", "pedantic", PROJECT / ".github" / "workflows"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout, result.stdout


def _check_mlloop(arguments: list[str]) -> None:
    try:
        build_parser().parse_args(arguments)
    except SystemExit as error:
        raise AssertionError(f"`mlloop {shlex.join(arguments)}` is not a valid command line") from error


def _check_cml(arguments: list[str]) -> None:
    assert arguments[:2] in (["comment", "update"], ["comment", "create"]), arguments
    flags = {re.sub(r"^--([^=]+).*", r"\1", word) for word in arguments if word.startswith("--")}
    assert flags <= CML_COMMENT_OPTIONS, f"unknown cml options {flags - CML_COMMENT_OPTIONS}"


def _recipe(target: str, variables: list[str]) -> list[str]:
    """The commands `make` would run for a target (dry run, with the environment taken as installed)."""
    result = subprocess.run(
        ["make", "--dry-run", "--always-make", "-o", ".venv/.synced", target, *variables],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        env={"PATH": f"{TOOLS}:/usr/bin:/bin", "GITHUB_STEP_SUMMARY": "/dev/null"},
    )
    assert result.returncode == 0, f"make has no working target {target!r}: {result.stderr}"
    commands = result.stdout.replace("\\\n", " ")  # a recipe line continued with a backslash is one command
    return [line for line in commands.splitlines() if line.strip()]


@pytest.mark.parametrize(("workflow", "command"), _run_commands(), ids=lambda value: str(value))
def test_every_run_step_is_one_existing_make_target_or_cli_call(workflow: str, command: str) -> None:
    # One line, so the step is the same command a developer types.
    assert "\n" not in command.strip(), f"{workflow}: multi-line run step {command!r}"
    program, *arguments = shlex.split(command)
    assert program in {"make", "mlloop"}, f"{workflow}: {command!r} is neither a make target nor the CLI"
    if program == "mlloop":
        _check_mlloop(arguments)
        return
    variables = [word for word in arguments if "=" in word]
    for target in (word for word in arguments if "=" not in word):
        for line in _recipe(target, variables):
            for substituted in re.findall(r"\$\(mlloop ([^)]*)\)", line):
                _check_mlloop(shlex.split(substituted))
            line_program, *line_arguments = shlex.split(line)
            if line_program == "mlloop":
                _check_mlloop(line_arguments)
            elif Path(line_program).name == "cml":
                _check_cml(line_arguments)


@pytest.mark.parametrize(
    ("target", "outputs"), [("summary", ["report"]), ("drift-summary", ["drift-report", "drift-history"])]
)
def test_the_summary_targets_ask_the_cli_where_the_report_is(target: str, outputs: list[str]) -> None:
    # The path is declared once, in Python: the Makefile neither repeats nor parses it
    paths = " ".join(f'"$(mlloop path {output})"' for output in outputs)
    assert _recipe(target, []) == [f'cat {paths} >> "${{GITHUB_STEP_SUMMARY:?is set by GitHub Actions}}"']
