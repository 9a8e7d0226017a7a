"""promote.yml, run for real under act on its schedule: the A/B report's decision alone decides. While the
evidence window is open nothing moves and nothing redeploys; once it closes on a clearly better challenger,
stage prod moves to it on the origin and deploy.yml is started; once it closes on a worse one, stage prod
stays and deploy.yml is started on the champion's version tag. Each report reaches the one tracking issue.

The log is what a bento serving a champion and a shadow challenger would write: `mlloop simulate --challenger`
on the evaluation pool, run in a clone of the origin with the registry's tags, so that it logs each model a
version holds by that version's tag, the name `make promote` moves stage prod to.
"""

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlloop.monitoring.fold_in import params_round_trip
from mlloop.monitoring.promotion import TRACKING_LABEL
from tests.git_cli import git
from tests.workflows.harness import REPOSITORY, SIMULATED_DAYS, Run, World, pipeline

pytestmark = pytest.mark.workflows

SCHEDULE = {"schedule": "47 5 * * *", "ref": "refs/heads/main"}
"""The schedule event of promote.yml's daily decision."""
CHAMPION, CHALLENGER = "v0.1.0", "v0.2.0"
EARLY_DAYS = 3
"""Days the challenger was logged in the first log: fewer than ab.decision.evidence_days, the window still open."""


def _release_champion(github: World) -> None:
    """main's model released as CHAMPION, at stage prod."""
    git(github.developer, "fetch", "--quiet", "origin")
    git(github.developer, "tag", "--annotate", f"churn@{CHAMPION}", "--message", "the champion", "origin/main")
    git(github.developer, "tag", "--annotate", "churn#prod#1", "--message", f"{CHAMPION} to prod", "origin/main")
    git(github.developer, "push", "--quiet", "origin", f"refs/tags/churn@{CHAMPION}", "refs/tags/churn#prod#1")


def _release_challenger(github: World) -> None:
    """A later commit of main released as CHALLENGER: it holds main's model too, which is logged by its highest
    version, CHALLENGER."""
    later = github.commit("Merge: a docs note", {"docs/note.md": "A note.\n"})
    git(github.developer, "tag", "--annotate", f"churn@{CHALLENGER}", "--message", "the challenger", later)
    git(github.developer, "push", "--quiet", "origin", f"refs/tags/churn@{CHALLENGER}")


def _serving_workspace(github: World) -> tuple[Path, Path]:
    """A clone of the origin, with the registry's tags, whose model learned far less than main's, with params
    ab.mode shadow: where `mlloop simulate --challenger` writes the log of a bento serving both. The weak model
    is the champion here, main's the challenger.

    No commit holds the weak model (it is trained here, and no version tag's dvc.lock records it), so the log
    names it `simulated:<hash>`, not CHAMPION. That is all promote.yml needs: it reads the challenger's version
    from the report and the champion's from stage prod, never the champion's name in the log.
    """
    workspace = github.directory / "ab-workspace"
    git(github.directory, "clone", "--quiet", str(github.origin.repository(REPOSITORY)), str(workspace))
    main_workspace = github.prepared.workspace
    shutil.copytree(main_workspace / "data" / "prepared", workspace / "data" / "prepared", dirs_exist_ok=True)
    yaml = params_round_trip()
    params = yaml.load(workspace / "params.yaml")
    params["ab"]["mode"] = "shadow"
    params["train"]["hyperparameters"]["max_iter"] = 3
    yaml.dump(params, workspace / "params.yaml")
    pipeline(["mlloop", "train"], workspace)
    return workspace, main_workspace / "models" / "model.joblib"


def _shadow_log(github: World, served: tuple[Path, Path], name: str, days: int) -> Path:
    """`days` of shadow traffic ending today, for INFERENCE_LOG_URL."""
    workspace, challenger = served
    log = github.directory / "inference-logs" / name
    command = ["mlloop", "simulate", "--pool", "evaluation", "--days", str(days), "--challenger", str(challenger)]
    pipeline([*command, "--out", str(log)], workspace)
    return log


def _stage_tags(github: World) -> list[str]:
    """The stage tags pushed to the origin, in the order they arrived."""
    return [ref for push in github.origin.pushes for _, _, ref in push.updates if "#prod" in ref]


def _tracking_issues(github: World) -> list[int]:
    return [issue.number for issue in github.api.issues.values() if TRACKING_LABEL in issue.labels]


def _daily_decision(github: World) -> Run:
    """promote.yml on its schedule, on main as the origin holds it."""
    main = git(github.developer, "rev-parse", "origin/main")
    return github.run("promote.yml", "schedule", SCHEDULE, at=main)


@dataclass(frozen=True)
class EarlyThenClosed:
    """Two daily decisions on one repository: the challenger logged for EARLY_DAYS, then for the whole window."""

    github: World
    early: Run
    closed: Run
    stage_tags_after_early: list[str]
    dispatches_after_early: int
    issues_after_early: list[int]


@pytest.fixture(scope="class")
def early_then_closed(shared_github: World) -> EarlyThenClosed:
    github = shared_github
    _release_champion(github)
    _release_challenger(github)
    served = _serving_workspace(github)
    github.variables["INFERENCE_LOG_URL"] = str(_shadow_log(github, served, "early", EARLY_DAYS))
    early = _daily_decision(github)
    stage_tags, dispatches, issues = _stage_tags(github), len(github.api.dispatches), _tracking_issues(github)
    github.variables["INFERENCE_LOG_URL"] = str(_shadow_log(github, served, "closed", SIMULATED_DAYS))
    closed = _daily_decision(github)
    return EarlyThenClosed(github, early, closed, stage_tags, dispatches, issues)


class TestAnOpenWindowThenAClearlyBetterChallenger:
    """promote.yml on a shadow log whose window is open, then on one whose window closed on a better challenger."""

    def test_while_the_window_is_open_nothing_moves_and_nothing_redeploys_but_the_issue_opens(
        self, early_then_closed: EarlyThenClosed
    ) -> None:
        github, early = early_then_closed.github, early_then_closed.early
        assert early.jobs == {"report": "success", "issue": "success"}, early.output[-3000:]
        assert early_then_closed.stage_tags_after_early == [], "stage prod moved on insufficient data"
        assert early_then_closed.dispatches_after_early == 0, "insufficient data started a deploy"
        (opened,) = early_then_closed.issues_after_early
        assert "insufficient_data" in github.api.issues[opened].body or any(
            "insufficient_data" in comment.body for comment in github.api.comments_on(opened)
        ), github.api.issues[opened].body

    def test_once_the_window_closes_stage_prod_moves_to_the_challenger_on_the_origin_and_deploy_starts(
        self, early_then_closed: EarlyThenClosed
    ) -> None:
        github, closed = early_then_closed.github, early_then_closed.closed
        assert closed.jobs == {"report": "success", "act": "success", "issue": "success"}, closed.output[-3000:]
        assert github.origin.refused == [], f"pushes refused for want of credentials: {github.origin.refused}"
        moved = _stage_tags(github)
        assert len(moved) == 2, moved
        assigned = git(github.developer, "ls-remote", "origin", f"{moved[0]}^{{}}").split()[0]
        challenger = git(github.developer, "ls-remote", "origin", f"refs/tags/churn@{CHALLENGER}^{{}}").split()[0]
        assert assigned == challenger, f"{moved[0]} does not tag the challenger's commit"
        assert re.fullmatch(r"refs/tags/churn#prod!#\d+", moved[1]), f"the champion was not unassigned: {moved}"
        assert [(dispatch.workflow, dispatch.inputs.get("ref", "")) for dispatch in github.api.dispatches] == [
            ("deploy.yml", "")
        ], github.api.dispatches

    def test_both_reports_reach_the_one_tracking_issue(self, early_then_closed: EarlyThenClosed) -> None:
        github = early_then_closed.github
        assert _tracking_issues(github) == early_then_closed.issues_after_early, "a second tracking issue opened"
        (number,) = early_then_closed.issues_after_early
        comments = github.api.comments_on(number)
        assert len(comments) >= 1, "the second report updated the issue without a comment"
        assert comments[-1].body.startswith("The report of "), comments
        assert "promote (promote)" in comments[-1].body, comments[-1].body


def test_a_closed_window_on_a_worse_challenger_retires_it_and_leaves_stage_prod_alone(github: World) -> None:
    # Given main's model at stage prod as the champion, and a week of shadow traffic in which a challenger
    # that learned far less, never released, was logged beside it: the evidence window has closed
    _release_champion(github)
    weak, champion_model = _serving_workspace(github)
    served = github.directory / "champion-workspace"
    shutil.copytree(weak, served, ignore=shutil.ignore_patterns("models"))
    shutil.copytree(champion_model.parent, served / "models")
    github.variables["INFERENCE_LOG_URL"] = str(
        _shadow_log(github, (served, weak / "models" / "model.joblib"), "worse", SIMULATED_DAYS)
    )

    # When the daily decision runs
    run = _daily_decision(github)

    # Then stage prod stays, deploy.yml is started on the champion's version tag, and the issue says keep_champion
    assert run.jobs == {"report": "success", "act": "success", "issue": "success"}, run.output[-3000:]
    assert _stage_tags(github) == [], "stage prod moved on a worse challenger"
    assert [(dispatch.workflow, dispatch.inputs.get("ref", "")) for dispatch in github.api.dispatches] == [
        ("deploy.yml", f"churn@{CHAMPION}")
    ], github.api.dispatches
    (number,) = _tracking_issues(github)
    assert "keep_champion" in github.api.issues[number].body, github.api.issues[number].body
    assert f"churn@{CHAMPION}" in github.api.issues[number].body, "the champion is not logged by its version"
