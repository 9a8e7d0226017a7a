"""Atomic file output: every stage writes to temporary siblings and renames them into
place only when the whole stage has succeeded, so a failed or interrupted run never
leaves a half-written or stale-looking output behind. And the small file helpers every
command shares (JSON, hashes, an input another stage must produce first).
"""

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from mlloop.errors import SourceError


def _temporary_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


@contextmanager
def atomic_outputs(*paths: Path) -> Iterator[tuple[Path, ...]]:
    """Yield temporary paths to write; move them all onto `paths` only if the block succeeds."""
    temporaries = tuple(_temporary_sibling(path) for path in paths)
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield temporaries
    except BaseException:
        for temporary in temporaries:
            _remove(temporary)
        raise
    for temporary, path in zip(temporaries, paths, strict=True):
        if path.is_dir():
            shutil.rmtree(path)
        temporary.replace(path)


def json_text(document: Any) -> str:
    """Stable JSON: sorted keys and a trailing newline, so equal content means equal bytes."""
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def write_json(path: Path, document: Any) -> None:
    """Write one JSON document atomically."""
    with atomic_outputs(path) as (temporary,):
        temporary.write_text(json_text(document))


def read_json(path: Path) -> Any:
    """Read a JSON document."""
    return json.loads(path.read_text())


Report = TypeVar("Report", bound=BaseModel)


def read_report(path: Path, model: type[Report], name: str, command: str) -> Report:
    """A report `command` wrote, as its model: a missing or unreadable one is a SourceError that says to run it."""
    if not path.is_file():
        raise SourceError(f"{path}: no {name}; run `{command}` first")
    try:
        return model.model_validate(read_json(path))
    except (OSError, ValueError) as error:  # invalid JSON and a pydantic ValidationError are ValueErrors
        article = "an" if name[0] in "AEIOU" else "a"
        raise SourceError(
            f"{path}: not {article} {name} this version can read ({error}); run `{command}` again"
        ) from error


def sha256_of(path: Path) -> str:
    """Content hash of a file, recorded so a model can be traced to its exact data."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def md5_of(path: Path) -> str:
    """The plain MD5 of a file's content: what DVC 3 records for an output in dvc.lock (`hash: md5`), so a file
    can be matched to the commits that hold it.
    """
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "md5").hexdigest()


def require(path: Path, produced_by: str) -> Path:
    """Return `path` if it exists, else say which stage to run first."""
    if not path.exists():
        raise SourceError(f"{path}: not found; run the '{produced_by}' stage first (dvc repro {produced_by})")
    return path
