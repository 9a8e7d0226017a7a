"""ci.yml, run for real under act: lint and the tests on a push to a branch."""

import pytest

from tests.git_cli import git
from tests.workflows.harness import World, push_event

pytestmark = pytest.mark.workflows

# The job's `make test` is the whole suite, this scenario included: inside it, the workflow scenarios skip
# (tests/workflows/conftest.py), and the rest would take the suite's quarter of an hour. The runner narrows
# pytest to one module (and so lifts the coverage floor); the step, its target and everything around it
# run as they are.
ONE_TEST_MODULE = {"PYTEST_ADDOPTS": "--cov-fail-under=0 tests/unit/test_config.py"}


def test_a_push_to_a_branch_runs_lint_and_the_tests_green(github: World) -> None:
    # Given a push to a branch that changes the documentation
    before = git(github.developer, "rev-parse", "origin/main")
    github.commit("docs: a note", {"docs/note.md": "A note.\n"}, branch="note")
    event, sha = push_event(github, "note", before)

    # When ci.yml runs on it
    run = github.run("ci.yml", "push", event, at=sha, runner=ONE_TEST_MODULE)

    # Then lint and the tests ran on that commit, without credentials left behind, and passed
    assert run.jobs == {"test": "success"}, run.output[-3000:]
    checkout = [call["checkout"] for call in github.recorded("actions") if "checkout" in call]
    assert checkout == [{"ref": "refs/heads/note", "sha": sha, "depth": 1, "persist": False}]
    assert "Success - Main make lint" in run.output
    assert " passed" in run.output, "make test ran no test"
    assert "a workflow scenario inside a workflow run by act would run itself again" in run.output
    assert github.api.requests == [], "ci.yml called the GitHub API"


def test_a_push_that_fails_lint_is_red_and_runs_no_tests(github: World) -> None:
    # Given a push whose code has an unused import
    before = git(github.developer, "rev-parse", "origin/main")
    github.commit("an unused import", {"src/mlloop/unused.py": '"""Nothing."""\n\nimport os\n'}, branch="sloppy")
    event, sha = push_event(github, "sloppy", before)

    # When ci.yml runs on it
    run = github.run("ci.yml", "push", event, at=sha, runner=ONE_TEST_MODULE)

    # Then the job is red at lint and the tests never start
    assert run.jobs == {"test": "failure"}, run.output[-3000:]
    assert "Failure - Main make lint" in run.output
    assert "F401" in run.output, "lint failed for another reason than the unused import"
    assert "Main make test" not in run.output
