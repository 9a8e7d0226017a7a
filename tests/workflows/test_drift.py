"""drift.yml, run for real under act on its schedule: one drift issue, kept in step; retraining at most once."""

import pytest

from tests.git_cli import git
from tests.workflows.harness import Run, World, simulate

pytestmark = pytest.mark.workflows

SCHEDULE = {"schedule": "17 5 * * *", "ref": "refs/heads/main"}


def _check(github: World) -> Run:
    return github.run("drift.yml", "schedule", SCHEDULE, at=git(github.developer, "rev-parse", "origin/main"))


def _drift_issues(github: World, state: str) -> list[int]:
    return [issue.number for issue in github.api.issues.values() if "drift" in issue.labels and issue.state == state]


def test_drift_opens_one_issue_the_next_drifted_run_updates_it_and_a_clean_run_closes_it(github: World) -> None:
    # Given an inference log whose latest week drifted (a price increase)
    github.variables["INFERENCE_LOG_URL"] = str(simulate(github, "drifted", "price_increase"))

    # When the daily check runs twice on it
    first = _check(github)
    opened = _drift_issues(github, "open")
    second = _check(github)

    # Then one issue labelled drift is opened, and the second run updates it instead of opening another
    assert first.jobs == {"check": "success", "issue": "success"}, first.output[-3000:]
    assert second.jobs == {"check": "success", "issue": "success"}, second.output[-3000:]
    assert len(opened) == 1, f"the first drifted run left {len(opened)} open drift issues"
    assert _drift_issues(github, "open") == opened, "the second drifted run did not keep the same single issue"
    assert any(comment.body.startswith("Still drifting") for comment in github.api.comments_on(opened[0]))

    # When the log's latest week is clean again
    github.variables["INFERENCE_LOG_URL"] = str(simulate(github, "clean", "none"))
    clean = _check(github)

    # Then the issue is closed, saying why
    assert clean.jobs == {"check": "success", "issue": "success"}, clean.output[-3000:]
    assert _drift_issues(github, "open") == []
    assert _drift_issues(github, "closed") == opened
    assert github.api.comments_on(opened[0])[-1].body.startswith("No drift")
    assert github.api.dispatches == [], "retraining was started without RETRAIN_ON_DRIFT"


def test_with_retrain_on_drift_at_most_one_retraining_pull_request_is_open(github: World) -> None:
    # Given a drifted log, RETRAIN_ON_DRIFT, and the setting that lets Actions open pull requests
    github.variables["INFERENCE_LOG_URL"] = str(simulate(github, "drifted", "price_increase"))
    github.variables["RETRAIN_ON_DRIFT"] = "true"
    github.api.actions_can_open_pull_requests = True

    # When two daily checks find drift, and GitHub runs each retraining they dispatch
    main = git(github.developer, "rev-parse", "origin/main")
    started = 0
    for _ in range(2):
        check = _check(github)
        assert check.jobs == {"check": "success", "issue": "success"}, check.output[-3000:]
        retrainings = [dispatch for dispatch in github.api.dispatches if dispatch.workflow == "retrain.yml"]
        for dispatch in retrainings[started:]:
            event = {"ref": f"refs/heads/{dispatch.ref}", "inputs": dispatch.inputs}
            github.run("retrain.yml", "workflow_dispatch", event, at=main)
        started = len(retrainings)

    # Then retraining ran, every run stayed green, and one retraining pull request is open
    retrain_runs = [run.jobs for run in github.runs if run.workflow == "retrain.yml"]
    assert retrain_runs, "drift with RETRAIN_ON_DRIFT started no retraining"
    assert all(jobs == {"retrain": "success"} for jobs in retrain_runs), retrain_runs
    assert len([pull for pull in github.api.pulls() if pull.state == "open"]) == 1, github.api.pulls()
