"""Put the trained model into the BentoML model store, labelled so a running service can be
traced back to its commit, its DVC-tracked file, its registry version and its metrics, with its model card.

When params `ab` asks for a challenger and the registry has a champion (serving.champion), the
champion goes into the store too, and the workspace's model records its tag: the bento built next
holds both, the workspace's model as the challenger.
"""

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bentoml

from mlloop.config import AbParams, AbSettings, Params, ServeParams, ServiceSettings
from mlloop.serving.champion import Champion, lineup
from mlloop.serving.inference_log import Variant
from mlloop.serving.model_card import render_model_card
from mlloop.storage import revisions
from mlloop.storage.files import atomic_outputs, read_json, require

MODEL_NAME = "churn"
"""The model's name in the BentoML store; bento/service.py serves `churn:latest`."""
HEADLINE_METRICS = ("roc_auc", "average_precision", "f1")
MODEL_FILE = "model.joblib"
LOG_DIRECTORY_VARIABLE = "MLLOOP_INFERENCE_LOG_DIR"
"""Overrides, for a running service, the inference-log directory stored with the model from params."""
METADATA_FILE = "model.json"
CARD_FILE = "MODEL_CARD.md"
SERVICE_SETTINGS = "service"
"""The metadata entry holding params' ServiceSettings, which bento/service.py reads back with service_settings."""
AB_SETTINGS = "ab"
"""The metadata entry holding params' AbSettings, which bento/service.py reads back with ab_settings."""
CHAMPION = "champion"
"""The metadata entry holding the champion's tag in the store, when the bento serves one beside this model."""
CHAMPION_NAME = f"{MODEL_NAME}_champion"
"""The champion's name in the BentoML store: the registry's version at stage prod, read at its commit."""
VERSION_LABEL = "version"
"""The label holding a stored model's registry version (`v0.2.0`); absent when it was imported without one."""


@dataclass(frozen=True)
class ReleaseVersion:
    """The registry version that tags the workspace's model, or will once its release registers it; None when
    the commit cannot know it. `reason` says which, for `mlloop import-model` to print.
    """

    version: str | None
    reason: str


def logged_name(tag: bentoml.Tag | str, labels: Mapping[str, str]) -> str:
    """The name the service answers and logs a model by: its registry version tag (`churn@v0.2.0`), the name
    `mlloop ab-report` reports a challenger by and `mlloop promote` moves stage prod to; its `tag` in the
    BentoML store only when it was imported without a version (a build from an uncommitted dvc.lock), a model
    no promotion can name.
    """
    version = labels.get(VERSION_LABEL)
    return str(tag) if version is None else f"{MODEL_NAME}@{version}"


def stored_service_settings(serve: ServeParams) -> dict[str, Any]:
    """The ServiceSettings part of params serve, in JSON types: BentoML keeps metadata in the model's YAML file."""
    return serve.model_dump(mode="json", include=set(ServiceSettings.model_fields))


def service_settings(metadata: Mapping[str, Any]) -> ServiceSettings:
    """The service's settings as import_model stored them with the model, validated again."""
    return ServiceSettings.model_validate(metadata[SERVICE_SETTINGS])


def stored_ab_settings(ab: AbParams) -> dict[str, Any]:
    """The AbSettings part of params ab, in JSON types."""
    return ab.model_dump(mode="json", include=set(AbSettings.model_fields))


def ab_settings(metadata: Mapping[str, Any]) -> AbSettings:
    """How the service serves champion and challenger, as import_model stored it with the model, validated again."""
    return AbSettings.model_validate(metadata[AB_SETTINGS])


def champion_tag(metadata: Mapping[str, Any]) -> str | None:
    """The tag of the champion the bento serves beside this model; None when this model is the champion."""
    tag = metadata.get(CHAMPION)
    return None if tag is None else str(tag)


def _headline(metrics: Mapping[str, float]) -> dict[str, str]:
    return {name: f"{metrics[name]:.4f}" for name in HEADLINE_METRICS if name in metrics}


@dataclass(frozen=True)
class _Stored:
    """A model put into the store: its tag there, and the name the service logs it by."""

    tag: str
    logged_as: str


def _import_champion(champion: Champion) -> _Stored:
    """Copy the champion's model and model.json into the store, labelled with its version."""
    staged = champion.staged
    labels = {
        "git_sha": staged.commit[:12],
        "dvc_md5": champion.model_md5,
        VERSION_LABEL: staged.version,
        "stage": staged.stage,
    } | _headline(champion.metrics)
    stored = {"threshold": champion.metadata["threshold"], "estimator": champion.metadata["estimator"]}
    with bentoml.models.create(CHAMPION_NAME, labels=labels, metadata=stored) as model:
        Path(model.path_of(MODEL_FILE)).write_bytes(champion.model_file)
        Path(model.path_of(METADATA_FILE)).write_text(json.dumps(champion.metadata))
    return _Stored(str(model.tag), logged_name(model.tag, labels))


def import_model(params: Params, release: ReleaseVersion) -> str:
    """Copy models/model.joblib into the store with its metadata, labelled with its `release` version when
    it has one, and the champion when there is one to serve beside it; say which tags hold what, the names
    the service logs them by, and why.
    """
    metadata: dict[str, Any] = read_json(require(params.paths.model_metadata, "train"))
    metrics: dict[str, float] = read_json(require(params.paths.metrics, "evaluate"))
    model_md5 = revisions.locked_md5(require(revisions.DVC_LOCK, "train").read_bytes(), params.paths.model)
    labels = {"git_sha": revisions.head()[:12], "dvc_md5": model_md5 or "untracked"} | _headline(metrics)
    if release.version is not None:
        labels[VERSION_LABEL] = release.version
    served = lineup(params, MODEL_NAME, model_md5, metadata)
    # The metadata holds what the service reads at start-up; the full model.json (schema included) is a file.
    stored = {
        "threshold": metadata["threshold"],
        "estimator": metadata["estimator"],
        SERVICE_SETTINGS: stored_service_settings(params.serve),
        AB_SETTINGS: stored_ab_settings(params.ab),
    }
    champion = _import_champion(served.champion) if served.champion else None
    if champion is not None:
        stored[CHAMPION] = champion.tag
    with bentoml.models.create(MODEL_NAME, labels=labels, metadata=stored) as model:  # its tag is known from here
        this = _Stored(str(model.tag), logged_name(model.tag, labels))
        logged_as: dict[Variant, str] = (
            {"champion": this.logged_as}
            if champion is None
            else {"champion": champion.logged_as, "challenger": this.logged_as}
        )
        card = render_model_card(
            MODEL_NAME,
            metadata,
            metrics,
            read_json(require(params.paths.model_perf, "evaluate")),
            params.data.source,
            params.serve.intended_use,
            params.serve.limitations,
            [os.path.relpath(png, params.serve.model_card.parent) for png in sorted(params.paths.plots.glob("*.png"))],
            served,
            logged_as,
        )
        with atomic_outputs(params.serve.model_card) as (card_path,):
            card_path.write_text(card)
        shutil.copyfile(require(params.paths.model, "train"), model.path_of(MODEL_FILE))
        shutil.copyfile(params.paths.model_metadata, model.path_of(METADATA_FILE))
        shutil.copyfile(params.serve.model_card, model.path_of(CARD_FILE))
    if champion is None:
        lines = [f"{this.tag}: the champion, logged as {this.logged_as}"]
    else:
        lines = [
            f"{this.tag}: the challenger, logged as {this.logged_as}",
            f"{champion.tag}: the champion, logged as {champion.logged_as}",
        ]
    return "\n".join([*lines, served.reason, release.reason])
