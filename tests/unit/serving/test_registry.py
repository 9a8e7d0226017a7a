"""The registry's stages, read from GTO's tags on a small real git repository: no stage before the
first assignment, the assigned version and its commit after it, and the latest assignment after a move.
Promotion moves stage prod (forward, or back: a rollback), pushes the stage tag to origin, and refuses a
version that was never registered."""

import time
from pathlib import Path

import gto.api
import pytest
from tests.git_cli import IDENTITY, git

from mlloop.errors import RemoteError, SourceError
from mlloop.serving.registry import PRODUCTION_STAGE, StagedVersion, promote, version_in_stage

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


def _next_second() -> None:
    """GTO orders a stage's assignments by their tags' times, to the second, as a real rollback days later."""
    time.sleep(1.1)


def _prod_version() -> str | None:
    staged = version_in_stage(NAME)
    return None if staged is None else staged.version


def _stage_tags(repository: Path) -> list[str]:
    return git(repository, "tag", "--list", f"{NAME}#*").split()


@pytest.mark.usefixtures("repository")
def test_promoting_the_first_version_puts_it_in_production() -> None:
    gto.api.register(".", NAME, "HEAD", version="v0.1.0")

    message = promote(NAME, "v0.1.0", push=False)

    assert _prod_version() == "v0.1.0"
    assert "no version was there" in message


def test_promotion_moves_prod_from_the_champion_to_the_challenger(repository: Path) -> None:
    # Given v0.1.0 in production and v0.2.0 registered beside it
    _release("HEAD~1", "v0.1.0")
    gto.api.register(".", NAME, "HEAD", version="v0.2.0")
    assert _prod_version() == "v0.1.0"

    message = promote(NAME, "churn@v0.2.0", push=False)

    assert _prod_version() == "v0.2.0"
    assert version_in_stage(NAME) == StagedVersion(NAME, "v0.2.0", git(repository, "rev-parse", "HEAD"), "prod")
    assert "from v0.1.0" in message
    assert [staged.version for staged in gto.api.find_versions_in_stage(".", NAME, "prod", versions_per_stage=-1)] == [
        "v0.2.0"
    ], "one version holds prod: the champion it replaced is unassigned"
    assert git(repository, "cat-file", "-t", f"{NAME}#prod#2") == "tag", "GTO stages are annotated tags"


@pytest.mark.usefixtures("repository")
def test_promoting_an_older_version_rolls_production_back() -> None:
    _release("HEAD~1", "v0.1.0")
    _release("HEAD", "v0.2.0")
    _next_second()

    promote(NAME, "v0.1.0", push=False)

    assert _prod_version() == "v0.1.0"


def test_promoting_the_version_already_in_production_moves_nothing(repository: Path) -> None:
    _release("HEAD", "v0.1.0")
    before = _stage_tags(repository)

    message = promote(NAME, "v0.1.0", push=False)

    assert "nothing to move" in message
    assert _stage_tags(repository) == before


def test_a_version_never_registered_is_a_source_error_naming_it_and_moves_nothing(repository: Path) -> None:
    _release("HEAD", "v0.1.0")

    with pytest.raises(SourceError, match=r"churn@v9\.9\.9 is not a registered version") as raised:
        promote(NAME, "v9.9.9", push=False)

    assert raised.value.exit_code == 4
    assert _prod_version() == "v0.1.0"
    assert _stage_tags(repository) == [f"{NAME}#prod#1"]


def test_promotion_pushes_the_stage_tag_to_origin(repository: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    origin = tmp_path_factory.mktemp("origin")
    git(origin, "init", "--quiet", "--bare")
    git(repository, "remote", "add", "origin", str(origin))
    _release("HEAD~1", "v0.1.0")
    gto.api.register(".", NAME, "HEAD", version="v0.2.0")
    before = _stage_tags(repository)

    promote(NAME, "v0.2.0", push=True)

    moved = sorted(set(_stage_tags(repository)) - set(before))
    pushed = git(origin, "tag", "--list", f"{NAME}#*").split()
    assert len(moved) == 2, "prod assigned to v0.2.0, and unassigned from v0.1.0"
    assert sorted(pushed) == moved
    assert f"{NAME}#prod#2" in pushed, "the assignment of prod to v0.2.0"


def test_a_stage_tag_that_cannot_be_pushed_is_deleted_so_the_next_run_moves_prod_again(repository: Path) -> None:
    git(repository, "remote", "add", "origin", str(repository / "no-such-origin"))
    _release("HEAD~1", "v0.1.0")
    gto.api.register(".", NAME, "HEAD", version="v0.2.0")

    with pytest.raises(RemoteError, match=r"cannot push tag churn#prod#2 to origin"):
        promote(NAME, "v0.2.0", push=True)

    assert _prod_version() == "v0.1.0"
