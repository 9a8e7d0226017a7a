"""One retraining pull request at a time. The drift workflow starts a retraining only on drift or
degraded (never on stale or contract_breach) and only while no retraining pull request is open; a
retraining commits what it changed on the branch retrain/production-data, pushes it and opens the
pull request, or refuses while one is open; GitHub's refusal of a pull request from GITHUB_TOKEN
names the setting and RETRAIN_TOKEN; and the checks of a pull request that started none can be
started on its branch.

A scripted `gh` on the PATH (tests/stand_ins/scripted_gh.py) records every call and answers as
told; git is real, with a bare repository as the origin.
"""

import json
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from dvc.repo import Repo
from tests.git_cli import IDENTITY, git
from tests.stand_ins.scripted_gh import PR_URL, ScriptedGh

from mlloop.cli import main
from mlloop.config import Params, Status, load_params
from mlloop.errors import GitHubError, RemoteError, SourceError
from mlloop.monitoring.retrain import BRANCH, dispatch_checks, dispatch_retraining, open_pull_request

PROJECT_ROOT = Path(__file__).parents[3]
REFUSAL = (
    "pull request create failed: GraphQL: GitHub Actions is not permitted to create or approve pull requests "
    "(createPullRequest)"
)


def _open_pull_requests(gh: ScriptedGh, *requests: tuple[int, bool]) -> None:
    """Answer `gh pr list` with these open pull requests: (number, whether from a fork)."""
    listed = [
        {"number": number, "url": f"https://github.com/owner/repo/pull/{number}", "isCrossRepository": fork}
        for number, fork in requests
    ]
    gh.answer("pr list", stdout=json.dumps(listed))


@pytest.mark.parametrize("status", ["drift", "degraded"])
def test_drift_or_degraded_with_no_retraining_under_review_starts_one(
    gh: ScriptedGh, drift_report: Callable[[Status], Path], status: Status
) -> None:
    message = dispatch_retraining(drift_report(status))

    assert gh.commands() == ["pr list", "workflow run"]
    listing = gh.calls[0]
    assert listing[listing.index("--head") + 1] == BRANCH
    assert listing[listing.index("--state") + 1] == "open"
    assert gh.calls[1] == ["workflow", "run", "retrain.yml"]
    assert message == f"{status}: started retrain.yml"


def test_drift_while_a_retraining_pull_request_is_open_leaves_it_alone(
    gh: ScriptedGh, drift_report: Callable[[Status], Path]
) -> None:
    _open_pull_requests(gh, (5, False))

    message = dispatch_retraining(drift_report("drift"))

    assert gh.commands() == ["pr list"]
    assert message == (
        "drift, but retraining pull request #5 is still open: left as it is (https://github.com/owner/repo/pull/5)"
    )


def test_a_forks_branch_of_the_same_name_does_not_hold_retraining_back(
    gh: ScriptedGh, drift_report: Callable[[Status], Path]
) -> None:
    _open_pull_requests(gh, (6, True))

    dispatch_retraining(drift_report("drift"))

    assert gh.commands() == ["pr list", "workflow run"]


@pytest.mark.parametrize("status", ["stale", "contract_breach", "insufficient_data", "no_drift"])
def test_a_silent_log_broken_data_or_no_drift_start_nothing_and_ask_github_nothing(
    gh: ScriptedGh, drift_report: Callable[[Status], Path], status: Status
) -> None:
    assert dispatch_retraining(drift_report(status)) == f"{status}: no retraining"
    assert gh.calls == []


NEW_SOURCE = "data/sources/training-2026-11-30.parquet.dvc"
LOCK = "schema: '2.0'\nstages: {}\n"
RETRAINING_CHANGES = {
    "params.yaml",
    "dvc.lock",
    NEW_SOURCE,
    "metrics.json",
    "reports/model_perf.json",
    "reports/validation.json",
    "reports/plot_data/roc.csv",
}


@pytest.fixture(scope="module")
def committed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bare origin and its clone with `main` (this project's DVC files, and the files a retraining
    changes) committed and pushed: made once, copied by each test."""
    base = tmp_path_factory.mktemp("committed")
    origin, root = base / "origin.git", base / "clone"
    git(base, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    git(base, "clone", "--quiet", str(origin), str(root))
    for name in ("dvc.yaml", "params.yaml", "schema.yaml"):
        shutil.copy(PROJECT_ROOT / name, root / name)
    Repo.init(root).close()
    for name in RETRAINING_CHANGES - {"params.yaml", NEW_SOURCE} | {"README.md"}:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(LOCK if name == "dvc.lock" else "before\n")
    for arguments in (["add", "--all"], ["commit", "--quiet", "-m", "main"], ["push", "--quiet", "origin", "main"]):
        git(root, *arguments)
    return base


@pytest.fixture
def retrained(committed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The clone (the current directory) after fold-in and repro: every file a retraining changes is
    changed, and so is README.md, which the retraining must not commit. Returns the origin."""
    for key, value in IDENTITY.items():
        monkeypatch.setenv(key, value)
    origin, root = tmp_path / "origin.git", tmp_path / "clone"
    shutil.copytree(committed / "origin.git", origin)
    shutil.copytree(committed / "clone", root)
    git(root, "remote", "set-url", "origin", str(origin))
    monkeypatch.chdir(root)
    for name in RETRAINING_CHANGES | {"README.md"}:
        changed = root / name
        changed.parent.mkdir(parents=True, exist_ok=True)
        changed.write_text((changed.read_text() if changed.exists() else "") + "# retrained\n")
    return origin


@pytest.fixture
def params() -> Params:
    return load_params(Path("params.yaml"))


@pytest.mark.usefixtures("retrained")
def test_retraining_commits_what_it_changed_on_the_branch_and_opens_its_pull_request(
    gh: ScriptedGh, params: Params
) -> None:
    message = open_pull_request(params, Path("params.yaml"), date(2026, 11, 30))

    assert message == f"opened {PR_URL}"
    origin = git(Path.cwd(), "config", "remote.origin.url")
    pushed = git(Path(origin), "rev-parse", f"refs/heads/{BRANCH}")
    assert pushed == git(Path.cwd(), "rev-parse", "HEAD")
    assert set(git(Path.cwd(), "diff", "--name-only", "main", "HEAD").splitlines()) == RETRAINING_CHANGES
    assert git(Path.cwd(), "log", "-1", "--format=%s") == "Retrain on production data folded in 2026-11-30"
    assert gh.commands() == ["pr list", "pr create"]
    create = gh.calls[1]
    assert create[create.index("--head") + 1] == BRANCH


@pytest.mark.usefixtures("gh")
def test_a_later_retraining_replaces_the_branch_a_closed_pull_request_left(params: Params, retrained: Path) -> None:
    git(Path.cwd(), "push", "--quiet", "origin", f"main:refs/heads/{BRANCH}")  # the old, closed one's branch

    open_pull_request(params, Path("params.yaml"), date(2026, 11, 30))

    assert git(retrained, "rev-parse", f"refs/heads/{BRANCH}") == git(Path.cwd(), "rev-parse", "HEAD")


def test_retraining_while_its_pull_request_is_open_is_refused_before_anything_is_committed(
    gh: ScriptedGh, params: Params, retrained: Path
) -> None:
    _open_pull_requests(gh, (5, False))

    with pytest.raises(
        GitHubError, match=r"retraining pull request #5 is still open \(https://github.com/owner/repo/pull/5\)"
    ):
        open_pull_request(params, Path("params.yaml"), date(2026, 11, 30))

    assert gh.commands() == ["pr list"]
    assert git(Path.cwd(), "branch", "--show-current") == "main"
    assert git(retrained, "branch", "--list", BRANCH) == ""


@pytest.mark.usefixtures("retrained")
def test_githubs_refusal_of_a_pull_request_from_github_token_names_the_setting_and_the_token(
    gh: ScriptedGh, params: Params
) -> None:
    gh.answer("pr create", stderr=REFUSAL, exit=1)

    with pytest.raises(GitHubError) as refused:
        open_pull_request(params, Path("params.yaml"), date(2026, 11, 30))

    message = str(refused.value)
    assert message.startswith(f"gh pr create failed: {REFUSAL}. ")
    assert "'Allow GitHub Actions to create and approve pull requests'" in message
    assert "Settings → Actions → General → Workflow permissions" in message
    assert "RETRAIN_TOKEN" in message


@pytest.mark.usefixtures("retrained")
def test_a_push_the_origin_refuses_is_a_remote_error_and_opens_nothing(
    gh: ScriptedGh, params: Params, tmp_path: Path
) -> None:
    git(Path.cwd(), "remote", "set-url", "origin", str(tmp_path / "no-such-origin.git"))

    with pytest.raises(RemoteError, match=r"git push to origin failed: .*persist-credentials"):
        open_pull_request(params, Path("params.yaml"), date(2026, 11, 30))

    assert gh.commands() == ["pr list"]


@pytest.mark.usefixtures("retrained", "gh")
def test_the_command_prints_the_pull_request_it_opened(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["retrain-pr"]) == 0

    assert capsys.readouterr().out == f"opened {PR_URL}\n"


@pytest.mark.usefixtures("retrained")
def test_the_checks_of_a_pull_request_are_started_on_its_branch(gh: ScriptedGh) -> None:
    git(Path.cwd(), "switch", "--quiet", "--create", BRANCH)

    message = dispatch_checks()

    assert gh.calls == [["workflow", "run", "pr.yml", "--ref", BRANCH], ["workflow", "run", "ci.yml", "--ref", BRANCH]]
    assert message == f"started pr.yml and ci.yml on {BRANCH}"


@pytest.mark.usefixtures("retrained")
def test_no_checks_are_started_from_a_detached_head(gh: ScriptedGh) -> None:
    git(Path.cwd(), "switch", "--quiet", "--detach")

    with pytest.raises(SourceError, match="HEAD is detached"):
        dispatch_checks()

    assert gh.calls == []
