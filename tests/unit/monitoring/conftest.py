"""The monitoring modules call GitHub through `gh`: each test gets a scripted one on the PATH; the
reports they publish go to an in-memory object store."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pytest
from tests.stand_ins import install
from tests.stand_ins.common import RECORD_DIRECTORY
from tests.stand_ins.scripted_gh import ScriptedGh


@pytest.fixture
def gh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ScriptedGh:
    """A scripted gh on the PATH, answering as a repository with no open drift issue and no open pull request."""
    tools, records = tmp_path / "bin", tmp_path / "gh-records"
    tools.mkdir()
    records.mkdir()
    install(tools / "gh", "scripted_gh")
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")
    monkeypatch.setenv(RECORD_DIRECTORY, str(records))
    return ScriptedGh(records)


@pytest.fixture
def store() -> Iterator[str]:
    """An empty in-memory object store prefix (for published reports), removed afterwards."""
    root = f"/mlloop-test-{uuid.uuid4().hex}"
    yield f"memory://{root}"
    memory = fsspec.filesystem("memory")
    if memory.exists(root):
        memory.rm(root, recursive=True)
