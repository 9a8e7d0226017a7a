"""pr.yml, run for real under act: the pull-request loop's comment, summary and gate."""

import pytest

from tests.workflows.harness import World, pull_request_event

pytestmark = pytest.mark.workflows


def test_a_pull_request_changing_one_hyperparameter_gets_one_comment_and_a_green_gate(github: World) -> None:
    github.commit(
        "Learn a little faster",
        {"params.yaml": github.edit("params.yaml", "learning_rate: 0.03", "learning_rate: 0.04")},
        branch="faster",
    )
    event, merge = pull_request_event(github, "faster")

    run = github.run("pr.yml", "pull_request", event, at=merge)
    print(github.summary(run))

    assert run.jobs == {"model-report": "success"}, run.log[-5000:]
    comments = github.api.comments_on(event["number"])
    assert len(comments) == 1, comments
