"""Check that the DVC remote holds every object the checked-out commit references (dvc.lock, .dvc files).

`dvc status --cloud --json` maps each output path the remote lacks to `new` (only the local cache
has it) or `missing` (neither has it); `deleted` (only the remote has it) is fine here. It has one
blind spot: a directory whose listing (its .dir object) is in neither place is left out, with only
a warning, since without the listing DVC cannot name its files. DVC fetches every listing the
remote has while it checks, so a directory whose listing is still not in the local cache
afterwards is missing from the remote too. A listing on the remote stands for all of its files, as
DVC itself assumes: a push uploads the listing only after every file of the directory.
"""

import json
from collections.abc import Mapping

from dvc.repo import Repo

from mlloop.errors import RemoteIncompleteError
from mlloop.storage.remote import remote_url, run_dvc

ABSENT_FROM_REMOTE = frozenset({"new", "missing"})


def absent_from_remote(status: Mapping[str, str]) -> list[str]:
    """The paths that `dvc status --cloud --json` reports the remote lacks, sorted."""
    return sorted(path for path, state in status.items() if state in ABSENT_FROM_REMOTE)


def _unlisted_directories() -> tuple[list[str], int]:
    """Directory outputs whose listing is in neither the cache nor the remote, and the number of cached outputs."""
    with Repo() as repository:
        outputs = [output for output in repository.index.outs if output.use_cache and output.hash_info]
        unlisted = [
            str(output)
            for output in outputs
            if output.hash_info.isdir and not repository.cache.local.exists(output.hash_info.value)
        ]
    return unlisted, len(outputs)


def check_remote() -> str:
    """One line counting the outputs the remote holds; RemoteIncompleteError naming every path it lacks."""
    status = json.loads(run_dvc(["status", "--cloud", "--json"]))
    unlisted, outputs = _unlisted_directories()
    url = remote_url()
    missing = sorted({*absent_from_remote(status), *unlisted})
    if missing:
        raise RemoteIncompleteError(
            f"{url} lacks {len(missing)} object(s) that the checked-out commit references; "
            "run `make push` where they were built, or `make repro push`:\n"
            + "\n".join(f"  {path}" for path in missing)
        )
    return f"{url} holds the objects of all {outputs} outputs the checked-out commit references"
