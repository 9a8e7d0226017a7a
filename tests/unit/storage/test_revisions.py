"""Which commit a baseline ref names: the one this clone resolves, with `origin/<name>` only as the
fallback for a bare branch name that has no local branch (a CI checkout of a pull request keeps
`main` only as `origin/main`). Specified on a real clone whose local history has moved on from its
origin's, so each wrong choice gives a different SHA.
"""

from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.git_cli import git

from mlloop.storage.revisions import resolve


def _commit(cwd: Path, message: str) -> str:
    git(cwd, "commit", "--quiet", "--allow-empty", "--message", message)
    return git(cwd, "rev-parse", "HEAD")


@dataclass(frozen=True)
class Clone:
    """The SHAs of a clone (the current directory) and of the origin it was cloned from."""

    origin_main: str
    origin_main_parent: str
    origin_feature: str
    local_main: str
    local_main_parent: str


@pytest.fixture
def clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Clone:
    """origin has main (two commits) and a branch `feature`; the clone has two more commits on main."""
    origin = tmp_path / "origin"
    origin.mkdir()
    git(origin, "init", "--quiet", "--initial-branch=main")
    origin_main_parent = _commit(origin, "first")
    origin_main = _commit(origin, "second")
    git(origin, "switch", "--quiet", "--create", "feature")
    origin_feature = _commit(origin, "on feature")
    git(origin, "switch", "--quiet", "main")
    git(tmp_path, "clone", "--quiet", str(origin), "clone")
    workspace = tmp_path / "clone"
    local_main_parent = _commit(workspace, "third, not pushed")
    local_main = _commit(workspace, "fourth, not pushed")
    monkeypatch.chdir(workspace)
    return Clone(origin_main, origin_main_parent, origin_feature, local_main, local_main_parent)


def test_a_relative_ref_is_resolved_locally_not_as_origin_head(clone: Clone) -> None:
    # origin/HEAD~1 exists too (origin/HEAD is origin/main): it must not win
    assert resolve("HEAD~1") == clone.local_main_parent


def test_a_local_branch_wins_over_its_remote_copy(clone: Clone) -> None:
    assert resolve("main") == clone.local_main


def test_a_branch_name_without_a_local_branch_falls_back_to_origin(clone: Clone) -> None:
    assert resolve("feature") == clone.origin_feature


def test_an_explicit_remote_branch_is_taken_as_it_is(clone: Clone) -> None:
    assert resolve("origin/main") == clone.origin_main


def test_a_sha_and_a_tag_resolve_to_their_commit(clone: Clone) -> None:
    git(Path.cwd(), "tag", "v1", clone.origin_main_parent)

    assert resolve(clone.origin_main_parent[:12]) == clone.origin_main_parent
    assert resolve("v1") == clone.origin_main_parent


@pytest.mark.usefixtures("clone")
def test_an_expression_is_never_sent_to_origin() -> None:
    # `feature` exists only as origin/feature; `feature~1` is an expression, not a branch name
    assert resolve("feature~1") is None


@pytest.mark.usefixtures("clone")
def test_a_ref_that_names_nothing_is_none() -> None:
    assert resolve("no-such-branch") is None
