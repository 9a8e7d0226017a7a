"""Reading the baseline from git and DVC: resolve a ref, read committed files at it, and get
its DVC outputs from the cache or remote, or by reproducing it in a temporary worktree.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path, PurePosixPath

import yaml

from mlloop.errors import SourceError

DVC_LOCK = Path("dvc.lock")


def _git(*arguments: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *arguments], cwd=cwd, capture_output=True, check=False)


def _commit(ref: str) -> str | None:
    result = _git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    return result.stdout.decode().strip() if result.returncode == 0 else None


def _is_branch_name(ref: str) -> bool:
    """True for a name a branch could have; false for an expression such as `HEAD~1`, `v1^` or `@{u}`."""
    return _git("check-ref-format", f"refs/heads/{ref}").returncode == 0


def resolve(ref: str) -> str | None:
    """The commit SHA of `ref` as this clone resolves it; None when it names no commit.

    A ref that resolves here is taken as it is: `HEAD~1`, a tag, a SHA, a local branch (even one
    behind its remote). Only a branch name with no local branch falls back to `origin/<name>`, which
    is where a CI checkout of a pull request keeps every branch but its own.
    """
    sha = _commit(ref)
    if sha is None and _is_branch_name(ref):
        sha = _commit(f"origin/{ref}")
    return sha


def changed_since(sha: str) -> list[PurePosixPath]:
    """The files HEAD changed since it branched from `sha` (a pull request's diff: from their merge base)."""
    result = _git("diff", "--name-only", "--no-renames", "-z", f"{sha}...HEAD")
    if result.returncode != 0:
        raise SourceError(f"cannot list the files changed since {sha[:12]}: {result.stderr.decode().strip()}")
    return [PurePosixPath(name) for name in result.stdout.decode().split("\0") if name]


def head() -> str:
    """The SHA of the checked-out commit (the PR head in CI)."""
    result = _git("rev-parse", "HEAD")
    if result.returncode != 0:
        raise SourceError(f"not a git repository with a commit: {result.stderr.decode().strip()}")
    return result.stdout.decode().strip()


def locked_md5(lock_text: bytes | str, path: Path) -> str | None:
    """A stage output's md5 as a dvc.lock text records it (the key to its content in a DVC remote), or None."""
    lock = yaml.safe_load(lock_text) or {}
    for stage in lock.get("stages", {}).values():
        for output in stage.get("outs", []):
            if output["path"] == path.as_posix():
                return str(output["md5"])
    return None


def read_at(sha: str, path: Path) -> bytes | None:
    """A git-tracked file's content at a commit, or None when it is not there."""
    result = _git("show", f"{sha}:./{path.as_posix()}")
    return result.stdout if result.returncode == 0 else None


def _reproduce_in_worktree(sha: str, path: Path) -> bytes:
    """Check the commit out beside this one and `dvc repro` it with its own code, into the shared cache.

    Sharing the cache stores the baseline's outputs there, so the next report finds them at once.
    """
    with tempfile.TemporaryDirectory(prefix="mlloop-baseline-") as scratch:
        worktree = Path(scratch) / "baseline"
        added = _git("worktree", "add", "--detach", str(worktree), sha)
        if added.returncode != 0:
            raise SourceError(f"cannot check out baseline {sha[:12]}: {added.stderr.decode().strip()}")
        try:
            environment = os.environ | {"PYTHONPATH": str(worktree / "src")}  # run the baseline's own code
            from dvc.repo import Repo  # DVC takes a second to import: only what reads through it loads it

            with Repo() as repository:
                cache = str(repository.cache.local_cache_dir)
            dvc = [sys.executable, "-m", "dvc"]
            commands = [[*dvc, "config", "--local", "cache.dir", cache], [*dvc, "repro", "--quiet"]]
            for command in commands:
                result = subprocess.run(command, cwd=worktree, env=environment, capture_output=True, text=True)
                if result.returncode != 0:
                    raise SourceError(f"reproducing baseline {sha[:12]} failed: {result.stderr.strip()[-2000:]}")
            return (worktree / path).read_bytes()
        finally:
            _git("worktree", "remove", "--force", str(worktree))


def dvc_output_at(sha: str, path: Path) -> bytes:
    """A DVC output of a commit: from the cache or the remote, else by reproducing that commit."""
    import dvc.api  # a second to import: the commands that only ask git for a commit never load it
    from dvc.exceptions import DvcException

    try:
        with dvc.api.open(path.as_posix(), rev=sha, mode="rb") as stream:
            content: bytes = stream.read()
            return content
    except DvcException:
        return _reproduce_in_worktree(sha, path)


def tags_newest_first(pattern: str) -> list[str]:
    """The tags matching `pattern`, the highest version first (git's version sort, so v0.10.0 comes before
    v0.9.0); none outside a git repository, so a working copy without the registry's tags reads as one with none.
    """
    result = _git("tag", "--list", "--sort=-version:refname", pattern)
    return result.stdout.decode().split() if result.returncode == 0 else []


def version_tag_at(pattern: str, commit: str) -> str | None:
    """A tag matching `pattern` that points at `commit` itself, or None."""
    result = _git("tag", "--points-at", commit, "--list", pattern)
    tags = result.stdout.decode().split() if result.returncode == 0 else []
    return tags[0] if tags else None


def nearest_tag(pattern: str, commit: str) -> str | None:
    """The tag matching `pattern` nearest to `commit` along its first parents (main's own history), or None."""
    result = _git("describe", "--tags", "--abbrev=0", "--first-parent", "--match", pattern, commit)
    return result.stdout.decode().strip() if result.returncode == 0 else None
