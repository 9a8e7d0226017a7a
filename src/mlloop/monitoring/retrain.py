"""Retraining pull requests, one at a time, through git and `gh`.

The drift workflow starts a retraining for the statuses of monitoring.status.RETRAINING (drift and
degraded; never stale or contract_breach, whose data would make the model worse). One that lasts
would otherwise start a retraining every day, each with a pull request of its own. So the drift
workflow starts one only while no retraining pull request is open, and every retraining commits
on one branch, BRANCH: an open pull request from it is the one under review, and a later check
asking for retraining leaves it alone. A pull request opened with GITHUB_TOKEN starts no
workflow, so its checks can be started by dispatch (`dispatch_checks`).
"""

import os
import subprocess
from datetime import date
from pathlib import Path

from dvc.repo import Repo
from pydantic import Field, TypeAdapter

from mlloop.config import Frozen, Params
from mlloop.errors import GitHubError, RemoteError, SourceError
from mlloop.monitoring.drift_result import read_result
from mlloop.monitoring.github import gh
from mlloop.monitoring.status import RETRAINING
from mlloop.storage import revisions

BRANCH = "retrain/production-data"
RETRAIN_WORKFLOW = "retrain.yml"
CHECK_WORKFLOWS = ("pr.yml", "ci.yml")
TITLE = "Retrain on recent production data"
BODY = (
    "The labelled production rows of the inference log's latest window, folded into the training data "
    "(`make fold-in`), and the model retrained on them (`make repro`). The report and the gate follow."
)


class PullRequest(Frozen):
    """An open pull request as `gh pr list --json number,url,isCrossRepository` lists it."""

    number: int
    url: str
    from_fork: bool = Field(alias="isCrossRepository")


_PULL_REQUESTS = TypeAdapter(list[PullRequest])


def open_retraining_pull_request() -> PullRequest | None:
    """The open pull request from BRANCH of this repository (a fork's branch of that name is not ours)."""
    listed = gh("pr", "list", "--head", BRANCH, "--state", "open", "--json", "number,url,isCrossRepository")
    return next((request for request in _PULL_REQUESTS.validate_json(listed) if not request.from_fork), None)


def dispatch_retraining(report_directory: Path) -> str:
    """Start the retraining workflow when the last check's status retrains and no retraining is under review."""
    status = read_result(report_directory).status
    if status not in RETRAINING:
        return f"{status}: no retraining"
    under_review = open_retraining_pull_request()
    if under_review is not None:
        number, url = under_review.number, under_review.url
        return f"{status}, but retraining pull request #{number} is still open: left as it is ({url})"
    gh("workflow", "run", RETRAIN_WORKFLOW)
    return f"{status}: started {RETRAIN_WORKFLOW}"


def _git(*arguments: str) -> str:
    result = subprocess.run(["git", *arguments], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        answer = " ".join((result.stderr or result.stdout).split())  # one line, as every error is
        if arguments[0] == "push":
            raise RemoteError(
                f"git push to origin failed: {answer}; the checkout must keep a token that may write contents "
                "(actions/checkout with persist-credentials: true)"
            )
        raise SourceError(f"git {arguments[0]} failed: {answer}")
    return result.stdout


def committed_paths(params: Params, params_file: Path) -> list[Path]:
    """What a retraining changes that git keeps: params, dvc.lock, the new data pointer, the outputs kept in git."""
    with Repo() as repository:
        root = repository.root_dir
        in_git = [
            Path(os.path.relpath(output.fs_path, root))
            for stage in repository.index.stages
            for output in stage.outs
            if not output.use_cache
        ]
    return [params_file, revisions.DVC_LOCK, params.data.sources_dir, *in_git]


def open_pull_request(params: Params, params_file: Path, today: date) -> str:
    """Commit the retraining on BRANCH, push it and open its pull request; refuse while one is open."""
    under_review = open_retraining_pull_request()
    if under_review is not None:
        raise GitHubError(
            f"retraining pull request #{under_review.number} is still open ({under_review.url}): merge or close it, "
            "then retrain again; there is one retraining pull request at a time"
        )
    _git("switch", "--quiet", "--force-create", BRANCH)
    _git("add", "--", *(path.as_posix() for path in committed_paths(params, params_file)))
    _git("commit", "--quiet", "--message", f"Retrain on production data folded in {today.isoformat()}")
    # No retraining pull request is open, so the branch holds at most a closed one's commits.
    _git("push", "--quiet", "--force", "origin", f"HEAD:refs/heads/{BRANCH}")
    url = gh("pr", "create", "--head", BRANCH, "--title", TITLE, "--body", BODY).strip()
    return f"opened {url}"


def dispatch_checks() -> str:
    """Start the pull-request checks on the current branch, for a pull request whose opening started none."""
    branch = _git("branch", "--show-current").strip()
    if not branch:
        raise SourceError("HEAD is detached: check out the pull request's branch to start its checks")
    for workflow in CHECK_WORKFLOWS:
        gh("workflow", "run", workflow, "--ref", branch)
    return f"started {' and '.join(CHECK_WORKFLOWS)} on {branch}"
