"""The model registry's stages, by GTO's convention: an annotated tag `NAME#STAGE#N` assigns a stage
to a registered version (`NAME@vX.Y.Z`), and the latest assignment of a stage is the one in force.

The version at stage `prod` is the champion: the model in production, which a bento serving a
challenger holds beside it.
"""

from dataclasses import dataclass

import gto.api
from gto.exceptions import ArtifactNotFound, GTOException
from scmrepo.exceptions import SCMError

from mlloop.errors import SourceError

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
