"""retrain.yml, run for real under act: the retraining branch, its pull request, and the PR loop on it."""

import pytest

from tests.git_cli import git
from tests.workflows.harness import World, simulate

pytestmark = pytest.mark.workflows


def test_retraining_pushes_a_branch_opens_a_pull_request_and_dispatches_the_pr_loop_which_reports(
    github: World,
) -> None:
    # Given a drifted, labelled inference log, and the setting that lets Actions open pull requests
    github.variables["INFERENCE_LOG_URL"] = str(simulate(github, "drifted", "price_increase"))
    github.api.actions_can_open_pull_requests = True
    main = git(github.developer, "rev-parse", "origin/main")

    # When retrain.yml is started by hand on main (no RETRAIN_TOKEN)
    run = github.run("retrain.yml", "workflow_dispatch", {"ref": "refs/heads/main", "inputs": {}}, at=main)

    # Then the branch reaches the origin with the run's credentials, a pull request is opened for it,
    # and pr.yml is dispatched on it (with ci.yml), since a pull request opened with GITHUB_TOKEN starts no workflow
    assert run.jobs == {"retrain": "success"}, run.output[-3000:]
    branches = [ref for push in github.origin.pushes for _, _, ref in push.updates if ref.startswith("refs/heads/")]
    assert len(branches) == 1, github.origin.pushes
    branch = branches[0].removeprefix("refs/heads/")
    assert [(pull.head, pull.state) for pull in github.api.pulls()] == [(branch, "open")]
    dispatched = {(dispatch.workflow, dispatch.ref) for dispatch in github.api.dispatches}
    assert dispatched == {("pr.yml", branch), ("ci.yml", branch)}, github.api.dispatches

    # When GitHub runs the dispatched pr.yml on the branch
    head = github.origin.refs("octo/churn")[f"refs/heads/{branch}"]
    git(github.developer, "fetch", "--quiet", "origin")
    report = github.run("pr.yml", "workflow_dispatch", {"ref": f"refs/heads/{branch}", "inputs": {}}, at=head)

    # Then the PR loop reports on the retraining pull request's head, and comments on the pull request
    assert report.jobs == {"model-report": "success"}, report.output[-3000:]
    checkouts = [call["checkout"] for call in github.recorded("actions") if "checkout" in call]
    assert checkouts[-1]["sha"] == head
    comments = github.api.comments_on(github.api.pulls()[0].number)
    assert len(comments) == 1, comments
    assert "| metric | main | this PR |" in comments[0].body
