"""The session's shared setup for the workflow scenarios: one prepared environment and one prepared origin."""

import os
import shutil
import subprocess
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from mlloop.monitoring.fold_in import params_round_trip
from tests.git_cli import git
from tests.integration.repository import copy_repository
from tests.stand_ins import install
from tests.workflows.harness import (
    PROJECT,
    REPOSITORY,
    SUMMARIES,
    Prepared,
    World,
    pipeline,
    pipeline_alongside,
    world,
)

# The scenarios' repository measures less than the project does: fewer importance repeats, latency
# calls, serving-cost pairs and bootstrap resamples. The workflows do the same steps on it, in a third
# of the time (bench/README.md). A knob that a later params.yaml renames is left as it is.
LIGHTER_EVALUATION = {
    ("evaluate", "importance", "repeats"): 1,
    ("evaluate", "latency", "single_row_calls"): 20,
    ("evaluate", "latency", "batch_calls"): 2,
    ("report", "bootstrap", "resamples"): 200,
    ("report", "serving_cost", "single_row_calls"): 20,
    ("report", "serving_cost", "batch_calls"): 5,
    ("report", "serving_cost", "resamples"): 200,
}


def _lighten(params_file: Path) -> None:
    """Apply LIGHTER_EVALUATION to a params.yaml, keeping its comments and layout."""
    yaml = params_round_trip()
    params = yaml.load(params_file)
    for (*sections, knob), value in LIGHTER_EVALUATION.items():
        table = params
        for section in sections:
            table = table.get(section, {}) if table is not None else None
        if table is not None and knob in table:
            table[knob] = value
    yaml.dump(params, params_file)


ENVIRONMENT = (PROJECT / ".venv").resolve()
"""The project's environment, where its .venv leads: copied whole, never through a link to it, whose copy
would be the link, and the changes below would land in the project's own environment."""


def _relocatable_environment(environment: Path, kubectl: Path) -> None:
    """Make a hard-link copy of .venv work from any directory, with the recording kubectl in place of the real one.

    Each script is rewritten (a new file, so the project's own .venv is untouched) to start the
    python beside it, so a job's copy in its own workspace runs its own interpreter and packages.
    """
    interpreter = f"#!{ENVIRONMENT / 'bin' / 'python'}"
    for script in (environment / "bin").iterdir():
        if not script.is_file() or script.is_symlink():
            continue
        with script.open("rb") as handle:
            first = handle.readline()
        if first.decode(errors="replace").strip() != interpreter:
            continue
        body = script.read_bytes().split(b"\n", 1)[1]
        relocated = b"#!/bin/sh\n'''exec' \"$(dirname -- \"$0\")/python\" \"$0\" \"$@\"\n' '''\n" + body
        replacement = script.with_suffix(".relocated")
        replacement.write_bytes(relocated)
        replacement.chmod(0o755)
        replacement.replace(script)
    (environment / "bin" / "kubectl").unlink()
    shutil.copy2(kubectl, environment / "bin" / "kubectl")
    # The mark of the last sync gets a file of its own. Hard-linked, the `touch` of every job's sync (each
    # checkout is newer, so `make` syncs the environment to that job's workspace) would date the project's
    # mark and every other worker's, and a worker's next job would then skip its sync and run the scripts
    # that an earlier job's sync pointed at that job's deleted workspace.
    (environment / ".synced").unlink()
    (environment / ".synced").touch()


WORKFLOW_RUN = "workflow run"
"""The user property that carries a run's line from the process that ran it (an xdist worker) to the report."""
REPORTED_RUNS: list[str] = []
"""Every run's line, as the test reports brought them in."""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport() -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Each run's line goes with the report of the test phase (a fixture's setup, a call) that ran it."""
    report = yield
    report.user_properties.extend((WORKFLOW_RUN, line) for line in SUMMARIES)
    SUMMARIES.clear()
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect the runs' lines where the session is reported: the only process, or xdist's controller."""
    REPORTED_RUNS.extend(str(line) for name, line in report.user_properties if name == WORKFLOW_RUN)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per workflow run: the workflow, the event, each job's result and what the stand-ins recorded."""
    if REPORTED_RUNS:
        terminalreporter.section("workflow runs")
        for line in REPORTED_RUNS:
            terminalreporter.write_line(line)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """In a job that act runs (ci.yml's `make test`, in the ci scenario), the scenarios would start themselves
    again, without end: act sets ACT=true in every job, which GitHub's runners never do."""
    if os.environ.get("ACT") == "true":
        recursion = pytest.mark.skip(reason="a workflow scenario inside a workflow run by act would run itself again")
        for item in items:
            item.add_marker(recursion)


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    """The repository's main on an origin, its outputs in a DVC remote and cache, and the environment, once."""
    root = tmp_path_factory.mktemp("workflows")
    tools, runner_tools, cml_tools = root / "tools", root / "runner-tools", root / "cml-tools"
    for directory in (tools, runner_tools, cml_tools):
        directory.mkdir()
    install(tools / "action", "actions")
    for name in ("gh", "docker", "kubectl"):
        install(runner_tools / name, name)
    install(cml_tools / "cml", "cml")
    environment = root / "environment"
    subprocess.run(["cp", "-al", str(ENVIRONMENT), str(environment)], check=True)
    _relocatable_environment(environment, runner_tools / "kubectl")

    seed, dvc_remote = root / "seed", root / "dvc-remote"
    seed.mkdir()
    copy_repository(seed)
    _lighten(seed / "params.yaml")
    git(seed, "commit", "--quiet", "--all", "--message", "a lighter evaluation for the scenarios")
    # mypy's cache as ci.yml's last run on main saved it (started from the project's own, if it has one),
    # made while the pipeline runs: each takes one core, for about 20 s.
    if (PROJECT / ".mypy_cache").is_dir():
        shutil.copytree(PROJECT / ".mypy_cache", seed / ".mypy_cache")
    with pipeline_alongside(["mypy"], seed):
        pipeline(["dvc", "remote", "modify", "--local", "local", "url", str(dvc_remote)], seed)
        pipeline(["dvc", "repro", "--quiet"], seed)
        pipeline(["dvc", "push", "--quiet"], seed)
    if git(seed, "status", "--porcelain"):
        git(seed, "commit", "--quiet", "--all", "--message", "the pipeline's outputs")
    origin = root / "origin"
    bare = origin / REPOSITORY
    bare.parent.mkdir(parents=True)
    git(root, "clone", "--quiet", "--bare", str(seed), str(bare))
    git(bare, "config", "uploadpack.allowAnySHA1InWant", "true")
    git(bare, "remote", "remove", "origin")
    return Prepared(
        origin=origin,
        dvc_remote=dvc_remote,
        dvc_cache=seed / ".dvc" / "cache",
        mypy_cache=seed / ".mypy_cache",
        workspace=seed,
        environment=environment,
        tools=tools,
        runner_tools=runner_tools,
        cml_tools=cml_tools,
        real_kubectl=ENVIRONMENT / "bin" / "kubectl",
    )


@pytest.fixture(scope="class")
def shared_github(prepared: Prepared, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A repository shared by a class's tests, which each assert on one outcome of the same run."""
    with world(prepared, tmp_path_factory.mktemp("shared")) as scenario:
        yield scenario


@pytest.fixture
def github(prepared: Prepared, tmp_path: Path) -> Iterator[World]:
    """A fresh repository on the stand-in GitHub, main as prepared, for one scenario."""
    with world(prepared, tmp_path) as scenario:
        yield scenario
