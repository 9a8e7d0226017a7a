"""The bento's version, as `make bento` computes it, in a clone that already holds a model version tag.

From the second release on, the build job fetches every tag; a version described from the tag
(`churn@v0.1.0-1-g...`) holds `@`, and BentoML refuses the build.
"""

import subprocess
from pathlib import Path

import bentoml
import pytest
from tests.git_cli import git

PROJECT = Path(__file__).resolve().parents[2]


def _bento_version(repository: Path) -> str:
    """BENTO_VERSION as the project's Makefile expands it in `repository`."""
    printing = "bento-version: ; @echo $(BENTO_VERSION)"
    result = subprocess.run(
        ["make", "--no-print-directory", "--file", str(PROJECT / "Makefile"), "--eval", printing, "bento-version"],
        cwd=repository,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture
def released(tmp_path: Path) -> Path:
    """A repository whose first commit carries the annotated model version tag churn@v0.1.0, and one more commit."""
    git(tmp_path, "init", "--quiet", "--initial-branch=main")
    (tmp_path / "dvc.lock").write_text("first model\n")
    git(tmp_path, "add", "dvc.lock")
    git(tmp_path, "commit", "--quiet", "--message", "first model")
    git(tmp_path, "tag", "--annotate", "churn@v0.1.0", "--message", "model md5 0cc175b9")
    (tmp_path / "dvc.lock").write_text("second model\n")
    git(tmp_path, "commit", "--quiet", "--all", "--message", "second model")
    return tmp_path


def test_after_a_version_tag_the_bento_version_is_the_commit_and_bentoml_accepts_it(released: Path) -> None:
    version = _bento_version(released)

    assert version == git(released, "rev-parse", "--short=12", "HEAD")
    assert str(bentoml.Tag.from_str(f"churn_service:{version}")) == f"churn_service:{version}"


def test_a_build_from_uncommitted_changes_is_versioned_dirty_and_bentoml_accepts_it(released: Path) -> None:
    (released / "dvc.lock").write_text("a third, uncommitted model\n")

    version = _bento_version(released)

    assert version == f"{git(released, 'rev-parse', '--short=12', 'HEAD')}-dirty"
    assert str(bentoml.Tag.from_str(f"churn_service:{version}")) == f"churn_service:{version}"
