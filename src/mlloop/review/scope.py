"""Does a pull request touch what the PR loop runs on? pr.yml asks this in its first step instead of
a `paths:` filter: a filtered-out workflow never reports, so a required check would wait forever,
whereas a job that decides "skip" reports green at once.

The inputs are what dvc.yaml declares (each stage's files, params files and the outputs kept in
git, the DVC files themselves, any `.dvc` pointer) plus params `report.loop_inputs`, the files the
loop itself runs on. When in doubt (no baseline, no common history) the loop runs.
"""

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from dvc.dvcfile import ProjectFile
from dvc.repo import Repo

from mlloop.config import Params
from mlloop.errors import SourceError
from mlloop.storage import revisions

DVC_POINTER_SUFFIX = ".dvc"
SHOWN_FILES = 5


@dataclass(frozen=True)
class Scope:
    """The verdict for one pull request: run the loop or not, and a sentence saying why."""

    runs: bool
    reason: str

    @property
    def verdict(self) -> str:
        """`run` or `skip`: what pr.yml's later steps test."""
        return "run" if self.runs else "skip"


def _relative(path: str, root: str) -> PurePosixPath:
    return PurePosixPath(os.path.relpath(path, root))


def pipeline_inputs(params: Params) -> frozenset[PurePosixPath]:
    """Every file or folder whose change can change the loop's result, as repository-relative paths."""
    inputs = {PurePosixPath(path.as_posix()) for path in params.report.loop_inputs}
    with Repo() as repository:
        root = repository.root_dir
        for stage in repository.index.stages:
            dvcfile = PurePosixPath(stage.dvcfile.relpath)
            inputs.add(dvcfile)
            if isinstance(stage.dvcfile, ProjectFile):
                inputs.add(dvcfile.with_name(revisions.DVC_LOCK.name))
            inputs.update(_relative(dependency.fs_path, root) for dependency in stage.deps)
            inputs.update(_relative(output.fs_path, root) for output in stage.outs if not output.use_cache)
    return frozenset(inputs)


def _is_input(path: PurePosixPath, inputs: frozenset[PurePosixPath]) -> bool:
    return path.suffix == DVC_POINTER_SUFFIX or path in inputs or any(parent in inputs for parent in path.parents)


def _listed(paths: Sequence[PurePosixPath]) -> str:
    shown = ", ".join(path.as_posix() for path in paths[:SHOWN_FILES])
    return shown + (f" and {len(paths) - SHOWN_FILES} more" if len(paths) > SHOWN_FILES else "")


def decide(changed: Iterable[PurePosixPath], inputs: frozenset[PurePosixPath]) -> Scope:
    """Run when any changed file is an input, or lies in an input folder; skip otherwise."""
    changed = sorted(set(changed))
    touched = [path for path in changed if _is_input(path, inputs)]
    if touched:
        return Scope(True, f"{_listed(touched)} changed: the pipeline runs")
    if not changed:
        return Scope(False, "no file changed: nothing to retrain")
    return Scope(False, f"{_listed(changed)} changed, none of them a pipeline input: nothing to retrain")


def pr_scope(params: Params, baseline: str | None) -> Scope:
    """Compare the files HEAD changed since the baseline with the pipeline's inputs."""
    ref = baseline or params.report.baseline
    sha = revisions.resolve(ref)
    if sha is None:
        return Scope(True, f"baseline `{ref}` was not found: the pipeline runs")
    try:
        changed = revisions.changed_since(sha)
    except SourceError as error:
        return Scope(True, f"{error}: the pipeline runs")
    return decide(changed, pipeline_inputs(params))
