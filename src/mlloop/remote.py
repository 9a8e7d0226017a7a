"""Push to and pull from the DVC remote: a local directory by default, or an S3-compatible store.

The S3 remote's endpoint and credentials come from the standard AWS variables (AWS_ENDPOINT_URL,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), never from a committed file. DVC reports a refused key
as "Forbidden" and a missing bucket without its name, both as an "unexpected error", so a failed
command ends with one line naming the remote, the cause and the variable to check. The cause is
read from DVC's own error text (passed on first), the only thing a finished `dvc` process leaves.
"""

import subprocess
import sys
from dataclasses import dataclass
from typing import Literal

from dvc.exceptions import DvcException
from dvc.repo import Repo

from mlloop.errors import RemoteError

Direction = Literal["push", "pull"]

# A pull takes what the remote has; `dvc repro` builds the rest (a new branch's outputs are not there yet).
DVC_COMMANDS: dict[Direction, list[str]] = {"push": ["push"], "pull": ["pull", "--allow-missing"]}


@dataclass(frozen=True)
class Cause:
    """A failure, the words DVC or botocore report it in, and what the user should check."""

    signs: tuple[str, ...]
    problem: str
    fix: str


CAUSES = (
    Cause(
        ("Unable to locate credentials",),
        "no credentials were found",
        "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    ),
    Cause(
        # S3's error codes as DVC shows them, then the messages s3fs raises in their place
        (
            "Forbidden",
            "AccessDenied",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "ExpiredToken",
            "Access Denied",
            "Access Key Id you provided does not exist",
            "signature we calculated does not match",
        ),
        "access refused: the credentials are wrong or lack the permission",
        "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
    ),
    Cause(
        ("Could not connect to the endpoint URL", "Connect timeout on endpoint URL", "Cannot connect to host"),
        "the endpoint cannot be reached",
        "check AWS_ENDPOINT_URL (unset means AWS itself) and that the store is up",
    ),
    Cause(
        ("NoSuchBucket", "The specified bucket does not exist"),
        "the bucket does not exist",
        "create it, or correct the bucket in the URL",
    ),
)


def diagnose(url: str, errors: str) -> str | None:
    """One line, `<url>: <what went wrong>; <what to check>`, when the error text shows a known cause."""
    for cause in CAUSES:
        if any(sign in errors for sign in cause.signs):
            return f"{url}: {cause.problem}; {cause.fix}"
    return None


def remote_url() -> str:
    """The default DVC remote's URL, after .dvc/config.local (where `make remote` writes DVC_REMOTE_URL)."""
    try:
        with Repo() as repository:
            remote = repository.cloud.get_remote()
    except DvcException as error:
        raise RemoteError(f"no usable DVC remote: {error}") from error
    return str(remote.fs.unstrip_protocol(remote.path))


def run_dvc(arguments: list[str], url: str) -> str:
    """Run one dvc command against the remote at `url`; its output, or RemoteError naming the cause."""
    result = subprocess.run([sys.executable, "-m", "dvc", *arguments], capture_output=True, text=True, check=False)
    sys.stderr.write(result.stderr)
    if result.returncode != 0:
        raise RemoteError(diagnose(url, result.stderr) or f"{url}: dvc {arguments[0]} failed (its message is above)")
    return result.stdout


def transfer(direction: Direction) -> str:
    """Push the workspace's outputs to the default remote, or pull them from it; DVC's summary."""
    return run_dvc(DVC_COMMANDS[direction], remote_url()).strip()
