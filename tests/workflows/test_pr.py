"""pr.yml, run for real under act: the pull-request loop's one comment, its update, the gate, and forks."""

import pytest

from tests.stand_ins.cml import watermark
from tests.workflows.harness import READ_TOKEN, World, pull_request_event

pytestmark = pytest.mark.workflows

REPORT_TITLE = "mlloop model report"


def _propose(github: World, branch: str, old: str, new: str) -> None:
    github.commit(f"params: {new}", {"params.yaml": github.edit("params.yaml", old, new, branch)}, branch=branch)


def test_a_hyperparameter_change_gets_one_comment_with_the_metrics_and_verdict_updated_on_the_next_push(
    github: World,
) -> None:
    # Given a pull request that changes one hyperparameter
    _propose(github, "faster", "learning_rate: 0.03", "learning_rate: 0.04")
    event, merge = pull_request_event(github, "faster")

    # When pr.yml runs on it, and again after a second push
    first = github.run("pr.yml", "pull_request", event, at=merge)
    comments = github.api.comments_on(event["number"])
    first_body = comments[0].body if comments else ""
    _propose(github, "faster", "learning_rate: 0.04", "learning_rate: 0.05")
    event, merge = pull_request_event(github, "faster")
    second = github.run("pr.yml", "pull_request", event, at=merge)

    # Then the job is green both times, and the one comment holds the report, updated in place
    assert first.jobs == {"model-report": "success"}, first.output[-3000:]
    assert second.jobs == {"model-report": "success"}, second.output[-3000:]
    assert len(comments) == 1, f"the first run posted {len(comments)} comments"
    assert "| metric | main | this PR |" in first_body, "the comment lacks the metrics table"
    assert "| metric | Δ observed | 95% interval | verdict |" in first_body, (
        "the comment lacks the significance verdict"
    )
    assert "`0.03` | `0.04`" in first_body, "the comment does not name the changed hyperparameter"
    assert watermark(REPORT_TITLE) in first_body, "the comment lacks CML's watermark, so no update could find it"
    after = github.api.comments_on(event["number"])
    assert [comment.id for comment in after] == [comments[0].id], "the second push did not update the same comment"
    assert "`0.03` | `0.05`" in after[0].body, "the updated comment still shows the first push's report"
    assert [request.method for request in github.api.writes()] == ["POST", "PATCH"]
    assert "serving cost: as the report measured it" in second.output, "make gate timed the models a second time"


def test_a_pull_request_that_breaks_the_gate_is_still_reported_and_fails(github: World) -> None:
    # Given a pull request that cuts boosting to two rounds: far below the gate's floors
    _propose(github, "weak", "max_iter: 300", "max_iter: 2")
    event, merge = pull_request_event(github, "weak")

    # When pr.yml runs on it
    run = github.run("pr.yml", "pull_request", event, at=merge)

    # Then the comment is posted with the failed gate, and the job is red
    assert run.jobs == {"model-report": "failure"}, run.output[-3000:]
    comments = github.api.comments_on(event["number"])
    assert len(comments) == 1, f"{len(comments)} comments on a failing pull request"
    assert "**Gate: ❌" in comments[0].body, comments[0].body[:500]


def test_a_pull_request_from_a_fork_gets_no_comment_and_uses_no_secret(github: World) -> None:
    # Given a pull request from a fork: GitHub gives its run a read-only token, and no secrets or variables
    _propose(github, "fork-change", "learning_rate: 0.03", "learning_rate: 0.04")
    event, merge = pull_request_event(github, "fork-change", head_repository="someone/churn")
    github.secrets = {"GITHUB_TOKEN": READ_TOKEN}
    github.variables = {}

    # When pr.yml runs on it
    run = github.run("pr.yml", "pull_request", event, at=merge)

    # Then the model is still checked, but nothing is posted and no token reached the API
    assert run.jobs == {"model-report": "success"}, run.output[-3000:]
    assert github.recorded("cml") == [], "make comment ran for a fork"
    assert github.api.requests == [], "a fork's run called the GitHub API"
    assert github.origin.pushes == []


def test_a_pull_request_touching_no_pipeline_path_still_reports(github: World) -> None:
    # Given a pull request that only changes the README
    readme = github.edit("README.md", "#", "# ", "main")
    github.commit("docs: a README change", {"README.md": readme}, branch="docs")
    event, merge = pull_request_event(github, "docs")

    # When GitHub decides whether pr.yml runs
    run = github.run("pr.yml", "pull_request", event, at=merge)

    # Then the required check reports (green: nothing in the model changed)
    assert run.jobs == {"model-report": "success"}, run.output[-3000:]
