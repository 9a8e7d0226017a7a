"""retrain.yml, run for real under act: the retraining branch, its pull request, and the PR loop on it."""

import pytest

from tests.workflows.harness import REPOSITORY, RetrainingOnDrift

pytestmark = pytest.mark.workflows


def test_retraining_pushes_a_branch_opens_a_pull_request_and_dispatches_the_pr_loop_which_reports(
    retraining_on_drift: RetrainingOnDrift,
) -> None:
    # Given a drifted, labelled inference log, and the setting that lets Actions open pull requests,
    # when drift.yml's check starts retrain.yml on main (no RETRAIN_TOKEN) and GitHub runs it (conftest.py)
    github = retraining_on_drift.github
    assert retraining_on_drift.retrainings, "the drifted check started no retraining"
    run = retraining_on_drift.retrainings[0]

    # Then the branch reaches the origin with the run's credentials, a pull request is opened for it,
    # and pr.yml is dispatched on it (with ci.yml), since a pull request opened with GITHUB_TOKEN starts no workflow
    assert run.jobs == {"retrain": "success"}, run.output[-3000:]
    branches = [ref for push in github.origin.pushes for _, _, ref in push.updates if ref.startswith("refs/heads/")]
    assert len(branches) == 1, github.origin.pushes
    branch = branches[0].removeprefix("refs/heads/")
    assert [(pull.head, pull.state) for pull in github.api.pulls()] == [(branch, "open")]
    dispatched = {(dispatch.workflow, dispatch.ref) for dispatch in retraining_on_drift.dispatched_by_retraining}
    assert dispatched == {("pr.yml", branch), ("ci.yml", branch)}, retraining_on_drift.dispatched_by_retraining

    # When GitHub runs the dispatched pr.yml on the branch (conftest.py),
    # then the PR loop reports on the retraining pull request's head, and comments on the pull request
    assert [report.jobs for report in retraining_on_drift.reports] == [{"model-report": "success"}], [
        report.output[-3000:] for report in retraining_on_drift.reports
    ]
    head = github.origin.refs(REPOSITORY)[f"refs/heads/{branch}"]
    checkouts = [call["checkout"] for call in github.recorded("actions") if "checkout" in call]
    on_branch = [checkout["sha"] for checkout in checkouts if checkout["ref"] == f"refs/heads/{branch}"]
    assert on_branch == [head], checkouts
    comments = github.api.comments_on(github.api.pulls()[0].number)
    assert len(comments) == 1, comments
    assert "| metric | main | this PR |" in comments[0].body
