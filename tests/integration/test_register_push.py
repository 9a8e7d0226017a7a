"""`mlloop register --push` against an origin that authenticates as GitHub does (tests/git_origin.py).

The clone holds its credential the way actions/checkout v7 leaves it, in a file included from the
clone's own .git/config, and the machine has no global or system git config at all. The version tag
must arrive; without a credential the command must fail naming the remote and the tag, and leave no
local tag behind that a rerun would take for registered.
"""

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mlloop.config import load_params
from mlloop.errors import RemoteError
from tests.git_cli import git
from tests.git_origin import TOKEN_USER, GitOrigin, persist_credentials, serving_origin

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).resolve().parents[2]
MODEL_MD5 = "0cc175b9c0f1b6a831c399e269772661"
TAG = "churn@v0.1.0"
REPOSITORY = "octo/churn"
TOKEN = "ghs_token_of_the_run"


def _environment(home: Path) -> dict[str, str]:
    """A runner's: the tools on PATH, an empty HOME and no system config, and the bot's identity."""
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "github-actions[bot]",
        "GIT_AUTHOR_EMAIL": "bot@example.invalid",
        "GIT_COMMITTER_NAME": "github-actions[bot]",
        "GIT_COMMITTER_EMAIL": "bot@example.invalid",
    }


def _run(command: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=_environment(home), capture_output=True, text=True, check=False)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    empty = tmp_path / "home"
    empty.mkdir()
    return empty


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A repository whose committed dvc.lock records a model never versioned before."""
    root = tmp_path / "source"
    root.mkdir()
    params = load_params(PROJECT / "params.yaml")
    shutil.copy(PROJECT / "params.yaml", root)
    shutil.copy(PROJECT / "schema.yaml", root)
    outs = [{"path": params.paths.model.as_posix(), "md5": MODEL_MD5, "size": 1}]
    lock = {"schema": "2.0", "stages": {"train": {"cmd": "mlloop train", "outs": outs}}}
    (root / "dvc.lock").write_text(yaml.safe_dump(lock))
    (root / params.paths.metrics).parent.mkdir(parents=True, exist_ok=True)
    (root / params.paths.metrics).write_text(json.dumps({"roc_auc": 0.8}))
    git(root, "init", "--quiet", "--initial-branch=main")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "--message", "train the first model")
    return root


@pytest.fixture
def origin(source: Path, tmp_path: Path) -> Iterator[GitOrigin]:
    """The source repository served as `octo/churn` by an origin that takes TOKEN for a push."""
    served = tmp_path / "served"
    git(tmp_path, "clone", "--quiet", "--mirror", str(source), str(served / REPOSITORY))
    with serving_origin(served, {TOKEN}) as serving:
        yield serving


def _checkout(origin: GitOrigin, tmp_path: Path) -> Path:
    """Clone the origin over HTTP, anonymously, as the checkout action fetches a public repository."""
    clone = tmp_path / "workspace"
    git(tmp_path, "clone", "--quiet", origin.url_of(REPOSITORY), str(clone))
    return clone


def test_the_version_tag_reaches_an_origin_whose_credential_checkout_keeps_in_an_included_file(
    origin: GitOrigin, tmp_path: Path, home: Path
) -> None:
    clone = _checkout(origin, tmp_path)
    persist_credentials(clone, origin.url, TOKEN, tmp_path / "runner-temp")

    result = _run(["mlloop", "register", "--push"], clone, home)

    assert result.returncode == 0, result.stderr
    assert f"registered {TAG}" in result.stdout
    assert "pushed it" in result.stdout
    assert origin.refs(REPOSITORY).get(f"refs/tags/{TAG}") == git(clone, "rev-parse", "HEAD")
    assert {push.user for push in origin.pushes} == {TOKEN_USER}, "the tags were pushed with the checkout's credential"
    # the first release is the champion: it takes the registry's stage prod too
    assert [ref for push in origin.pushes for *_, ref in push.updates] == [f"refs/tags/{TAG}", "refs/tags/churn#prod#1"]


def test_a_push_without_a_credential_names_the_remote_and_the_tag_and_leaves_no_tag(
    origin: GitOrigin, tmp_path: Path, home: Path
) -> None:
    clone = _checkout(origin, tmp_path)

    result = _run(["mlloop", "register", "--push"], clone, home)

    assert result.returncode == RemoteError.exit_code, result.stdout + result.stderr
    assert f"cannot push tag {TAG} to origin ({origin.url_of(REPOSITORY)})" in result.stderr
    assert "refused the push" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, "one line, no traceback"
    assert f"refs/tags/{TAG}" not in origin.refs(REPOSITORY)
    assert (len(origin.refused), origin.pushes) == (1, []), "the one push was refused for want of a credential"
    assert git(clone, "tag", "--list") == "", "an unpushed tag is not left to pass for registered"
