"""Push a ref to a git remote with the git command line, and name a failure by its cause.

The git command line reads the repository's own config and every file it includes: actions/checkout
keeps its token in such an included file. Dulwich, which GTO and scmrepo push through, reads only the
global and system config, so on a runner it pushes without the token and gets HTTP 401.
"""

import os
import subprocess
from urllib.parse import urlsplit, urlunsplit

from mlloop.errors import RemoteError
from mlloop.storage.store_errors import Cause

# The texts are git's own (2.39 to 2.47) over HTTPS and SSH.
CAUSES = (
    Cause(
        (
            "could not read Username",
            "could not read Password",
            "Authentication failed",
            "The requested URL returned error: 401",
            "The requested URL returned error: 403",
            "Permission to",
            "Permission denied",
        ),
        "the remote refused the push: no credential was sent, or it lacks the permission",
        "on GitHub Actions check out with `persist-credentials: true` and give the job `contents: write`",
    ),
    Cause(
        ("Could not resolve host", "Failed to connect", "Couldn't connect to server", "Connection refused"),
        "the remote cannot be reached",
        "check the remote's URL (`git remote get-url`) and that it is up",
    ),
    Cause(
        ("[rejected]", "already exists", "non-fast-forward"),
        "the remote already holds a different ref of that name",
        "fetch the remote's tags (`git fetch --tags`) and register again",
    ),
    Cause(
        ("does not appear to be a git repository", "No such remote", "Repository not found"),
        "there is no such remote repository",
        "check `git remote -v`",
    ),
)


def _git(*arguments: str) -> subprocess.CompletedProcess[str]:
    # Never prompt: a runner has no terminal, and a prompt would hang the job until its timeout.
    environment = os.environ | {"GIT_TERMINAL_PROMPT": "0"}
    return subprocess.run(["git", *arguments], capture_output=True, text=True, check=False, env=environment)


def _display_url(remote: str) -> str:
    """The remote's URL without any credential written into it, or the remote's name when it has none."""
    result = _git("remote", "get-url", remote)
    if result.returncode != 0:
        return remote
    parts = urlsplit(result.stdout.strip())
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc)) if parts.scheme else result.stdout.strip()


def diagnose(errors: str) -> str | None:
    """What went wrong and what to check, when git's error text shows a known cause."""
    for cause in CAUSES:
        if any(sign in errors for sign in cause.signs):
            return f"{cause.problem}; {cause.fix}"
    return None


def push_tag(remote: str, tag: str) -> None:
    """Push one tag; RemoteError naming the remote, its URL, the tag and the cause when git fails."""
    result = _git("push", "--porcelain", remote, f"refs/tags/{tag}:refs/tags/{tag}")
    if result.returncode != 0:
        cause = diagnose(result.stderr + result.stdout) or f"git push failed: {result.stderr.strip()[-500:]}"
        raise RemoteError(f"cannot push tag {tag} to {remote} ({_display_url(remote)}): {cause}")


def delete_tag(tag: str) -> None:
    """Delete a local tag (one that could not be pushed); a tag that is already gone is no error."""
    _git("tag", "--delete", tag)
