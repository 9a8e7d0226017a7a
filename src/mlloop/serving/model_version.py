"""Model versions in git, by GTO's convention: an annotated tag `churn@vMAJOR.MINOR.PATCH` on the
commit whose dvc.lock holds the model, and the labels the release image carries.

A merge gets a new version only when the model file changed, that is when its DVC md5 differs
from the one recorded at the latest version; the new version is the next minor. The version is
known before it is registered, so the image built first can already carry it.
"""

import os
from dataclasses import dataclass

import gto.api
import semver
from gto.exceptions import ArtifactNotFound, GTOException
from scmrepo.exceptions import SCMError

from mlloop.config import Params
from mlloop.errors import SourceError
from mlloop.serving.bento_model import HEADLINE_METRICS, MODEL_NAME
from mlloop.storage import revisions
from mlloop.storage.artifacts import require
from mlloop.storage.files import read_json

FIRST_VERSION = "v0.1.0"


@dataclass(frozen=True)
class ModelVersion:
    """The version of the workspace's model, and whether it still has to be registered."""

    version: str
    model_md5: str
    is_new: bool


def current_version(params: Params) -> ModelVersion:
    """The latest version if it holds HEAD's model, else the next minor version (v0.1.0 for the first).

    HEAD's model is the one its committed dvc.lock records: that is the commit a version tags.
    """
    lock = require(revisions.DVC_LOCK, "train").read_bytes()
    if lock != revisions.read_at(revisions.head(), revisions.DVC_LOCK):
        raise SourceError(f"{revisions.DVC_LOCK} differs from the committed one: commit it, then version the model")
    md5 = revisions.locked_md5(lock, params.paths.model)
    if md5 is None:
        raise SourceError(f"{revisions.DVC_LOCK} records no {params.paths.model}: run `dvc repro`")
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


def register(params: Params, push: bool) -> str:
    """Tag HEAD with the model's new version (and push the tag); say what was done."""
    version = current_version(params)
    if not version.is_new:
        return f"{MODEL_NAME}@{version.version} already holds this model (md5 {version.model_md5}): nothing to register"
    try:
        gto.api.register(
            ".", MODEL_NAME, "HEAD", version=version.version, message=f"model md5 {version.model_md5}", push=push
        )
    except (GTOException, SCMError) as error:  # no git identity to tag with, a rejected push
        raise SourceError(f"cannot register {MODEL_NAME}@{version.version}: {error}") from error
    return (
        f"registered {MODEL_NAME}@{version.version} (model md5 {version.model_md5}){' and pushed it' if push else ''}"
    )


def image_labels(params: Params) -> dict[str, str]:
    """OCI labels for the service image: source commit, model version and headline metrics."""
    version = current_version(params)
    metrics: dict[str, float] = read_json(require(params.paths.metrics, "evaluate"))
    labels = {
        "org.opencontainers.image.revision": revisions.head(),
        "org.opencontainers.image.version": version.version,
        "org.opencontainers.image.title": f"{MODEL_NAME}-service",  # no spaces: the Makefile splits labels on them
        "io.mlloop.core.model.md5": version.model_md5,
    } | {f"io.mlloop.metrics.{name}": f"{metrics[name]:.4f}" for name in HEADLINE_METRICS}
    if repository := os.environ.get("GITHUB_REPOSITORY"):
        labels["org.opencontainers.image.source"] = (
            f"{os.environ.get('GITHUB_SERVER_URL', 'https://github.com')}/{repository}"
        )
    return labels
