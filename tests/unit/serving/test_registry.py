"""The registry's stages, read from GTO's tags on a small real git repository: no stage before the
first assignment, the assigned version and its commit after it, and the latest assignment after a move."""

from pathlib import Path

import gto.api
import pytest
from tests.git_cli import IDENTITY, git

from mlloop.serving.registry import PRODUCTION_STAGE, StagedVersion, version_in_stage

NAME = "churn"


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository, entered, with two commits: HEAD~1 and HEAD, neither registered."""
    for name, value in IDENTITY.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    git(tmp_path, "init", "--quiet", "--initial-branch=main")
    for message in ("the first model", "the second model"):
        git(tmp_path, "commit", "--quiet", "--allow-empty", "--message", message)
    return tmp_path


def _release(ref: str, version: str, stage: str = PRODUCTION_STAGE) -> None:
    gto.api.register(".", NAME, ref, version=version)
    gto.api.assign(".", NAME, stage, version=version)


@pytest.mark.usefixtures("repository")
def test_a_repository_without_versions_has_no_version_in_production() -> None:
    assert version_in_stage(NAME) is None


@pytest.mark.usefixtures("repository")
def test_a_registered_version_never_assigned_is_not_in_production() -> None:
    gto.api.register(".", NAME, "HEAD", version="v0.1.0")

    assert version_in_stage(NAME) is None


def test_the_version_assigned_to_prod_is_found_with_the_commit_it_tags(repository: Path) -> None:
    _release("HEAD~1", "v0.1.0")

    found = version_in_stage(NAME)

    assert found == StagedVersion(NAME, "v0.1.0", git(repository, "rev-parse", "HEAD~1"), PRODUCTION_STAGE)
    assert found.tag == "churn@v0.1.0"


def test_moving_prod_to_a_newer_version_makes_it_the_one_in_production(repository: Path) -> None:
    _release("HEAD~1", "v0.1.0")
    _release("HEAD", "v0.2.0")

    found = version_in_stage(NAME)

    assert found is not None
    assert (found.version, found.commit) == ("v0.2.0", git(repository, "rev-parse", "HEAD"))


@pytest.mark.usefixtures("repository")
def test_another_stage_is_not_production() -> None:
    _release("HEAD", "v0.1.0", stage="staging")

    assert version_in_stage(NAME) is None
    found = version_in_stage(NAME, "staging")
    assert found is not None
    assert found.version == "v0.1.0"
