"""Model versions in git, by GTO's convention: an annotated tag `churn@vMAJOR.MINOR.PATCH` on the
commit whose dvc.lock holds the model, and the labels the release image carries.

A merge gets a new version only when the model file changed, that is when its DVC md5 differs
from the one recorded at the latest version; the new version is the next minor. The version is
known before it is registered, so the image built first can already carry it.

GTO creates the tag; the git command line pushes it (mlloop.storage.git_push), since GTO's own push
goes through dulwich, which never sees the token actions/checkout keeps in the repository's config.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import gto.api
import semver
from gto.exceptions import ArtifactNotFound, GTOException
from scmrepo.exceptions import SCMError

from mlloop.config import Params
from mlloop.errors import RemoteError, SourceError
from mlloop.serving.bento_model import HEADLINE_METRICS, MODEL_NAME, ReleaseVersion
from mlloop.serving.registry import PRODUCTION_STAGE, promote, version_in_stage
from mlloop.storage import revisions
from mlloop.storage.files import md5_of, read_json, require
from mlloop.storage.git_push import delete_tag, push_tag

FIRST_VERSION = "v0.1.0"
REMOTE = "origin"
PARENT = "HEAD~1"


@dataclass(frozen=True)
class ModelVersion:
    """The version of the workspace's model, and whether it still has to be registered."""

    version: str
    model_md5: str
    is_new: bool


def current_version(params: Params) -> ModelVersion:
    """The version tagging HEAD, else the latest version if it holds HEAD's model, else the next minor
    version (v0.1.0 for the first).

    HEAD's model is the one its committed dvc.lock records: that is the commit a version tags.
    """
    lock = require(revisions.DVC_LOCK, "train").read_bytes()
    if lock != revisions.read_at(revisions.head(), revisions.DVC_LOCK):
        raise SourceError(f"{revisions.DVC_LOCK} differs from the committed one: commit it, then version the model")
    md5 = revisions.locked_md5(lock, params.paths.model)
    if md5 is None:
        raise SourceError(f"{revisions.DVC_LOCK} records no {params.paths.model}: run `dvc repro`")
    tagging_head = revisions.version_tag_at(f"{MODEL_NAME}@v*", revisions.head())
    if tagging_head is not None:  # a deploy of an older version's commit (retiring a challenger) keeps its version
        return ModelVersion(tagging_head.removeprefix(f"{MODEL_NAME}@"), md5, is_new=False)
    try:
        latest = gto.api.find_latest_version(".", MODEL_NAME)
    except ArtifactNotFound:  # no version registered yet (or a clone without tags)
        latest = None
    if latest is None:
        return ModelVersion(FIRST_VERSION, md5, is_new=True)
    lock_at_latest = revisions.read_at(latest.commit_hexsha, revisions.DVC_LOCK)
    if lock_at_latest is not None and revisions.locked_md5(lock_at_latest, params.paths.model) == md5:
        return ModelVersion(latest.version, md5, is_new=False)
    return ModelVersion(f"v{semver.Version.parse(latest.version.removeprefix('v')).bump_minor()}", md5, is_new=True)


def release_version(params: Params) -> ReleaseVersion:
    """The version the workspace's model is served as, for `mlloop import-model` to label it with: the bento is
    built before the release registers that version (deploy.yml), so its service logs the name a promotion acts on.

    None on a build from a dvc.lock not committed (a local one): no version tags that model, nor ever will.
    """
    try:
        found = current_version(params)
    except SourceError as error:
        return ReleaseVersion(
            None,
            f"this model has no registry version ({error}), so the service logs it by its tag in the BentoML store, "
            "a name `mlloop promote` cannot act on",
        )
    tag = f"{MODEL_NAME}@{found.version}"
    if found.is_new:
        return ReleaseVersion(found.version, f"{tag} is the version the release registers for this commit's model")
    return ReleaseVersion(found.version, f"{tag} is the registered version holding this model")


def registered_version(model_file: Path, params: Params) -> str | None:
    """The version tag (`churn@vX.Y.Z`) whose commit's dvc.lock records `model_file`'s content as the model
    (params paths.model), the highest when several do; None when no version tag holds it (a clone without the
    registry's tags, a model never committed).

    The name the registry knows a model by, for a log written outside the service (mlloop simulate): the
    challenger an A/B report then names is one `mlloop promote` can move stage prod to. One `git tag` listing
    and one dvc.lock read per version: cheap for the tens of versions a model has.
    """
    tags = revisions.tags_newest_first(f"{MODEL_NAME}@v*")
    if not tags:
        return None
    md5 = md5_of(model_file)
    for tag in tags:
        lock = revisions.read_at(f"refs/tags/{tag}", revisions.DVC_LOCK)
        if lock is not None and revisions.locked_md5(lock, params.paths.model) == md5:
            return tag
    return None


def _is_champion(params: Params) -> bool:
    """Whether the model released now becomes the one in production: always with ab.mode "off", which
    replaces it outright; otherwise only when no version is at stage prod (a repository's first release),
    since with a champion the new model is served beside it as the challenger until a promotion.
    """
    return params.ab.mode == "off" or version_in_stage(MODEL_NAME) is None


def register(params: Params, push: bool) -> str:
    """Tag HEAD with the model's new version (and push the tag to origin); say what was done.

    The released model, when it becomes the champion (`_is_champion`), also gets stage prod, so that
    the registry names the model in production and later releases have a champion.
    A tag that cannot be pushed is deleted again, so the next run registers and pushes it anew.
    """
    registered = _register_version(params, push)
    if not _is_champion(params):
        return f"{registered}; stage {PRODUCTION_STAGE} stays where it is: this model is the challenger"
    version = current_version(params)
    return f"{registered}; {promote(MODEL_NAME, version.version, push=push, remote=REMOTE)}"


def _register_version(params: Params, push: bool) -> str:
    version = current_version(params)
    tag = f"{MODEL_NAME}@{version.version}"
    if not version.is_new:
        return f"{tag} already holds this model (md5 {version.model_md5}): nothing to register"
    try:
        gto.api.register(
            ".", MODEL_NAME, "HEAD", version=version.version, message=f"model md5 {version.model_md5}", push=False
        )
    except (GTOException, SCMError) as error:  # no git identity to tag with
        raise SourceError(f"cannot register {tag}: {error}") from error
    if push:
        try:
            push_tag(REMOTE, tag)
        except RemoteError:
            delete_tag(tag)
            raise
    return f"registered {tag} (model md5 {version.model_md5}){' and pushed it' if push else ''}"


def previous_release() -> str:
    """The ref main's gate compares with: the latest model version before HEAD, else HEAD's parent.

    On main, `origin/main` is the commit being built: a gate against it compares the model with itself.
    """
    return revisions.nearest_tag(f"{MODEL_NAME}@v*", PARENT) or PARENT


def image_labels(params: Params) -> dict[str, str]:
    """OCI labels for the service image: source commit, model version and headline metrics."""
    version = current_version(params)
    metrics: dict[str, float] = read_json(require(params.paths.metrics, "evaluate"))
    labels = {
        "org.opencontainers.image.revision": revisions.head(),
        "org.opencontainers.image.version": version.version,
        "org.opencontainers.image.title": f"{MODEL_NAME}-service",  # no spaces: the Makefile splits labels on them
        "io.mlloop.model.md5": version.model_md5,
    } | {f"io.mlloop.metrics.{name}": f"{metrics[name]:.4f}" for name in HEADLINE_METRICS}
    if repository := os.environ.get("GITHUB_REPOSITORY"):
        labels["org.opencontainers.image.source"] = (
            f"{os.environ.get('GITHUB_SERVER_URL', 'https://github.com')}/{repository}"
        )
    return labels
