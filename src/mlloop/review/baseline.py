"""What a commit recorded: the baseline's outputs read from git and DVC, and the PR's from this
reproduced workspace, read the same way so the two sides compare like for like.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import yaml
from dvc.repo import Repo
from sklearn.pipeline import Pipeline

from mlloop.config import DEFAULT_PARAMS_FILE, Params
from mlloop.errors import SourceError
from mlloop.pipeline.stages.evaluate import CURVE_FILES
from mlloop.storage import revisions
from mlloop.storage.artifacts import MODEL_UNREADABLE

COMPARED_CURVES = ("roc", "precision_recall", "confusion")


@dataclass(frozen=True)
class Snapshot:
    """What one commit recorded in git: each field is None when that commit lacks the file."""

    metrics: dict[str, float] | None
    performance: dict[str, Any] | None
    params: dict[str, Any] | None
    lock: dict[str, Any] | None
    validation: dict[str, Any] | None
    curves: dict[str, pd.DataFrame] = field(default_factory=dict)


def _json(content: bytes | None) -> Any:
    return None if content is None else json.loads(content)


def _yaml(content: bytes) -> dict[str, Any]:
    return dict(yaml.safe_load(content) or {})


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


def _differs(change: Any) -> bool:
    """True for any recorded difference except an output that is only absent from the DVC cache."""
    if isinstance(change, dict):
        return any(_differs(value) for value in change.values())
    return bool(change != "not in cache")


def _out_of_date(status: dict[str, list[Any]]) -> list[str]:
    """Stages whose command, code, data or params differ from dvc.lock.

    An output that is only missing from the DVC cache (a fresh runner) still matches the lock,
    so it does not count.
    """
    return sorted(stage for stage, changes in status.items() if any(_differs(change) for change in changes))


def ensure_reproduced(params: Params) -> None:
    """Refuse to compare stale or missing outputs: the numbers would not describe this code."""
    if not params.paths.metrics.exists():
        raise SourceError(f"{params.paths.metrics} is missing: the pipeline was not reproduced; run `make repro`")
    with Repo() as repository:
        stale = _out_of_date(repository.status())
    if stale:
        raise SourceError(f"the pipeline was not reproduced: stages {stale} are out of date; run `make repro`")


def _snapshot(read: Callable[[Path], bytes | None], params: Params) -> Snapshot:
    """Build a snapshot with `read(path) -> bytes | None`, the same way for the workspace and for git."""
    paths = params.paths
    curves = {}
    for name in COMPARED_CURVES:
        content = read(paths.plot_data / CURVE_FILES[name])
        if content is not None:
            curves[name] = pd.read_csv(BytesIO(content))
    raw_params, raw_lock = read(DEFAULT_PARAMS_FILE), read(revisions.DVC_LOCK)
    return Snapshot(
        metrics=_json(read(paths.metrics)),
        performance=_json(read(paths.model_perf)),
        params=None if raw_params is None else _yaml(raw_params),
        lock=None if raw_lock is None else _yaml(raw_lock),
        validation=_json(read(paths.validation_report)),
        curves=curves,
    )


def workspace_snapshot(params: Params) -> Snapshot:
    """The PR side: this checkout's reproduced outputs."""
    ensure_reproduced(params)
    return _snapshot(_read, params)


@dataclass(frozen=True)
class Baseline:
    """The resolved baseline: its label, its commit (None when the ref is missing) and what it recorded."""

    label: str
    sha: str | None
    snapshot: Snapshot | None
    notes: list[str]

    @property
    def recorded(self) -> Snapshot | None:
        """The snapshot when the baseline has metrics to compare with (not a first PR, not a missing ref)."""
        return self.snapshot if self.snapshot is not None and self.snapshot.metrics is not None else None


def load_baseline(ref: str, params: Params) -> Baseline:
    """Resolve the ref and read its committed outputs; a missing ref or metrics becomes a note, not a crash."""
    sha = revisions.resolve(ref)
    if sha is None:
        return Baseline(ref, None, None, [f"Baseline `{ref}` was not found: showing this PR alone."])
    snapshot = _snapshot(lambda path: revisions.read_at(sha, path), params)
    notes = []
    if snapshot.metrics is None:
        notes.append(f"Baseline `{ref}` has no metrics yet (the first PR?): showing this PR alone.")
    return Baseline(ref, sha, snapshot, notes)


def predictions_at(sha: str, params: Params) -> pd.DataFrame:
    """A commit's test-set predictions, a DVC output: from the cache or remote, else reproduced."""
    return pd.read_parquet(BytesIO(revisions.dvc_output_at(sha, params.paths.predictions)))


def model_at(sha: str, params: Params) -> Pipeline:
    """A commit's fitted model, a DVC output, to time against this workspace's in the same process."""
    content = revisions.dvc_output_at(sha, params.paths.model)
    try:
        model = joblib.load(BytesIO(content))
    except MODEL_UNREADABLE as error:
        raise SourceError(f"{params.paths.model} at {sha[:12]}: cannot be loaded ({error})") from error
    if not isinstance(model, Pipeline):
        raise SourceError(f"{params.paths.model} at {sha[:12]}: holds a {type(model).__name__}, not a Pipeline")
    return model
