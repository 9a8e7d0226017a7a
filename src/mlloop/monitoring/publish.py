"""Publish the drift report to the object store, one folder per day (`<url>/<YYYY-MM-DD>/`), so every
check stays readable beside the log it read, after the workflow's artifact has expired. The status
history (`mlloop drift-history`), when the report has one, also replaces `<url>/history.jsonl`,
where the next check reads it.

Files are put one by one: a recursive put would create a missing bucket instead of failing. A
local folder (a mounted share) must exist too; the day's folders are made in it, as an object
store needs none.
"""

import posixpath
from datetime import date
from pathlib import Path

import fsspec
from botocore.exceptions import BotoCoreError

from mlloop.errors import RemoteError, SourceError
from mlloop.monitoring.drift_result import DriftReportFiles
from mlloop.monitoring.history import history_url
from mlloop.storage.store_errors import diagnose


def _on_disk(filesystem: fsspec.AbstractFileSystem) -> bool:
    """A local folder, where a file's folders must exist before it is put (an object store has none)."""
    protocols = filesystem.protocol
    return "file" in ((protocols,) if isinstance(protocols, str) else protocols)


def publish_report(directory: Path, base_url: str, day: date) -> str:
    """Copy every file of the report directory under `<base_url>/<day>/`, and the history beside the days;
    return the day folder's URL.
    """
    report = DriftReportFiles(directory)
    if not report.result.is_file():
        raise SourceError(f"{directory}: no drift report to publish; run `make drift` first")
    destination = f"{base_url.rstrip('/')}/{day.isoformat()}"
    files = sorted(path for path in directory.rglob("*") if path.is_file())
    try:
        filesystem, root = fsspec.core.url_to_fs(destination)
        sources = [path.as_posix() for path in files]
        targets = [f"{root}/{path.relative_to(directory).as_posix()}" for path in files]
        if report.history.is_file():
            sources.append(report.history.as_posix())
            targets.append(fsspec.core.url_to_fs(history_url(base_url))[1])
        if _on_disk(filesystem):
            if not filesystem.isdir(posixpath.dirname(root)):
                raise FileNotFoundError(f"no such folder: {posixpath.dirname(root)}")
            for folder in {posixpath.dirname(target) for target in targets}:
                filesystem.makedirs(folder, exist_ok=True)
        filesystem.put(sources, targets)
    except (OSError, BotoCoreError) as error:
        # s3fs raises OSError for a refused key or a missing bucket, botocore its own errors for an
        # unreachable endpoint or no credentials; the message names the cause in either case.
        raise RemoteError(diagnose(destination, str(error)) or f"{destination}: {error}") from error
    return destination
