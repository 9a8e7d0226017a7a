"""pr.yml, run for real under act: the pull-request loop's one comment, its update, the gate, and forks."""

from dataclasses import dataclass

import pytest

from tests.stand_ins.cml import watermark
from tests.workflows.harness import READ_TOKEN, Run, World, pull_request_event

pytestmark = pytest.mark.workflows

REPORT_TITLE = "mlloop model report"


def _propose(github: World, branch: str, old: str, new: str) -> None:
    github.commit(f"params: {new}", {"params.yaml": github.edit("params.yaml", old, new, branch)}, branch=branch)


@dataclass(frozen=True)
class TwoPushes:
    """Two runs of pr.yml on one pull request, and its comment as the first left it."""

    github: World
    number: int
    first: Run
    first_comment: str  # empty unless the first run left exactly one comment
    second: Run


@pytest.fixture(scope="class")
def two_pushes(shared_github: World) -> TwoPushes:
    """A pull request that changes one hyperparameter, through pr.yml, then its next push, which breaks the gate
    (boosting cut to two rounds: far below the gate's floors), through pr.yml again."""
    github = shared_github
    _propose(github, "faster", "learning_rate: 0.03", "learning_rate: 0.04")
    event, merge = pull_request_event(github, "faster")
    first = github.run("pr.yml", "pull_request", event, at=merge)
    comments = github.api.comments_on(event["number"])
    first_comment = comments[0].body if len(comments) == 1 else ""
    _propose(github, "faster", "max_iter: 300", "max_iter: 2")
    event, merge = pull_request_event(github, "faster")
    second = github.run("pr.yml", "pull_request", event, at=merge)
    return TwoPushes(github, event["number"], first, first_comment, second)


class TestAHyperparameterChangeThenAPushThatBreaksTheGate:
    """pr.yml on a pull request that changes one hyperparameter, and on its next push, which breaks the gate."""

    def test_a_hyperparameter_change_gets_one_comment_with_the_metrics_and_the_verdict(
        self, two_pushes: TwoPushes
    ) -> None:
        first, first_body = two_pushes.first, two_pushes.first_comment
        assert first.jobs == {"model-report": "success"}, first.output[-3000:]
        assert first_body, "the first run did not post exactly one comment"
        assert "| metric | main | this PR |" in first_body, "the comment lacks the metrics table"
        assert "| metric | Δ observed | 95% interval | verdict |" in first_body, (
            "the comment lacks the significance verdict"
        )
        assert "`0.03` | `0.04`" in first_body, "the comment does not name the changed hyperparameter"
        assert watermark(REPORT_TITLE) in first_body, "the comment lacks CML's watermark, so no update could find it"

    def test_the_next_push_updates_that_comment(self, two_pushes: TwoPushes) -> None:
        github = two_pushes.github
        after = github.api.comments_on(two_pushes.number)
        assert len(after) == 1, f"{len(after)} comments after the second push"
        assert [request.method for request in github.api.writes()] == ["POST", "PATCH"]
        assert "`300` | `2`" in after[0].body, "the updated comment still shows the first push's report"

    def test_a_push_that_breaks_the_gate_is_still_reported_and_fails(self, two_pushes: TwoPushes) -> None:
        assert two_pushes.second.jobs == {"model-report": "failure"}, two_pushes.second.output[-3000:]
        (comment,) = two_pushes.github.api.comments_on(two_pushes.number)
        assert "**Gate: ❌" in comment.body, comment.body[:500]

    def test_the_gate_reads_the_serving_cost_the_report_measured(self, two_pushes: TwoPushes) -> None:
        assert "serving cost: as the report measured it" in two_pushes.second.output, (
            "make gate timed the models a second time"
        )


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
