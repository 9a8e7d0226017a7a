"""Push to and pull from the DVC remote: a local directory by default, or an S3-compatible store.

The S3 remote's endpoint and credentials come from the standard AWS variables (AWS_ENDPOINT_URL,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), never from a committed file. DVC reports a refused key
as "Forbidden" and a missing bucket without its name, both as an "unexpected error", so a failed
command ends with one line naming the remote, the cause and the variable to check. The cause is
read from DVC's own error text (passed on first: mlloop.storage.store_errors).
"""

import subprocess
import sys
from typing import Literal

from dvc.exceptions import DvcException
from dvc.repo import Repo

from mlloop.errors import RemoteError
from mlloop.storage.store_errors import diagnose

Direction = Literal["push", "pull"]

# A pull takes what the remote has; `dvc repro` builds the rest (a new branch's outputs are not there yet).
DVC_COMMANDS: dict[Direction, list[str]] = {"push": ["push"], "pull": ["pull", "--allow-missing"]}


def remote_url() -> str:
    """The default DVC remote's URL, after .dvc/config.local (where `make remote` writes DVC_REMOTE_URL)."""
    try:
        with Repo() as repository:
            remote = repository.cloud.get_remote()
    except DvcException as error:
        raise RemoteError(f"no usable DVC remote: {error}") from error
    return str(remote.fs.unstrip_protocol(remote.path))


def run_dvc(arguments: list[str]) -> str:
    """Run one dvc command against the default remote; its output, or RemoteError naming the remote and the cause."""
    result = subprocess.run([sys.executable, "-m", "dvc", *arguments], capture_output=True, text=True, check=False)
    sys.stderr.write(result.stderr)
    if result.returncode != 0:
        url = remote_url()  # only a failure names the remote
        raise RemoteError(diagnose(url, result.stderr) or f"{url}: dvc {arguments[0]} failed (its message is above)")
    return result.stdout


def transfer(direction: Direction) -> str:
    """Push the workspace's outputs to the default remote, or pull them from it; DVC's summary."""
    return run_dvc(DVC_COMMANDS[direction]).strip()
