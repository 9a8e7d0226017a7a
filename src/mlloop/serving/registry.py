"""The model registry's stages, by GTO's convention: an annotated tag `NAME#STAGE#N` assigns a stage
to a registered version (`NAME@vX.Y.Z`), and `NAME#STAGE!#N` unassigns it. GTO reads the highest version
holding a stage as the one in force, not the latest assigned: one version holds prod here because
`mlloop promote` unassigns the previous holder as it assigns the next, so a rollback to an older version works.

The version at stage `prod` is the champion: the model in production, which a bento serving a
challenger holds beside it.
"""

from dataclasses import dataclass

import gto.api
from gto.exceptions import ArtifactNotFound, GTOException
from scmrepo.exceptions import SCMError

from mlloop.errors import RemoteError, SourceError
from mlloop.storage import revisions
from mlloop.storage.git_push import delete_tag, push_tag

PRODUCTION_STAGE = "prod"
"""The stage of the version in production (`gto assign churn --version v0.2.0 --stage prod`)."""


@dataclass(frozen=True)
class StagedVersion:
    """A registered version of a model and the commit it tags, as a stage found it."""

    name: str
    version: str
    commit: str
    stage: str

    @property
    def tag(self) -> str:
        """The version's tag, as GTO writes it: `churn@v0.2.0`."""
        return f"{self.name}@{self.version}"


def version_in_stage(name: str, stage: str = PRODUCTION_STAGE) -> StagedVersion | None:
    """The version of model `name` that the stage holds in this clone's tags; None when none does.

    None too in a clone without the registry's tags: a shallow checkout fetches no tags unless asked.
    """
    try:
        found = gto.api.find_versions_in_stage(".", name, stage, versions_per_stage=1)
    except ArtifactNotFound:
        return None
    except (GTOException, SCMError) as error:
        raise SourceError(f"cannot read the model registry's stage {stage} of {name}: {error}") from error
    if not found:
        return None
    staged = found[0] if isinstance(found, list) else found
    return StagedVersion(name, staged.version, staged.commit_hexsha, stage)


def promote(name: str, version: str, *, push: bool, remote: str = "origin") -> str:
    """Move stage prod of model `name` to `version` (and push the stage tags to `remote`); say what was done.

    GTO lets several versions hold a stage and reads the highest of them as the one in force, so a move
    is two annotated tags: `version` assigned, the previous holder unassigned; one version then holds
    prod, and moving back to an older version (a rollback) works as a move forward does. The git command
    line pushes the tags (storage.git_push), as it pushes the version tags. Tags that cannot be pushed
    are deleted again, so the next run moves the stage anew.
    """
    version = version.removeprefix(f"{name}@")
    tag = f"{name}@{version}"
    if revisions.resolve(f"refs/tags/{tag}") is None:
        raise SourceError(
            f"{tag} is not a registered version of {name}: no tag {tag} in this clone; `gto show {name}` lists "
            "the versions (`git fetch --tags` first in a shallow clone)"
        )
    current = version_in_stage(name)
    if current is not None and current.version == version:
        return f"{tag} is already at stage {PRODUCTION_STAGE}: nothing to move"
    was = f" (was {current.version})" if current is not None else " (the first release)"
    try:
        tags = [
            gto.api.assign(".", name, PRODUCTION_STAGE, version=version, force=True, message=f"promote {tag}{was}").tag
        ]
        if current is not None:
            retired = gto.api.unassign(
                ".", name, version=current.version, stage=PRODUCTION_STAGE, message=f"{tag} promoted in its place"
            )
            tags.append(retired.tag)
    except (GTOException, SCMError) as error:  # no git identity to tag with
        raise SourceError(f"cannot move stage {PRODUCTION_STAGE} to {tag}: {error}") from error
    if push:
        try:
            for created in tags:
                push_tag(remote, created)
        except RemoteError:
            for created in tags:
                delete_tag(created)
            raise
    return (
        f"moved stage {PRODUCTION_STAGE} to {tag}"
        + (f" from {current.version}" if current is not None else " (no version was there)")
        + f": tags {', '.join(tags)}{' pushed' if push else ''}"
    )
