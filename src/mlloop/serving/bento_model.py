"""Put the trained model into the BentoML model store, labelled so a running service can be
traced back to its commit, its DVC-tracked file and its metrics, with its model card.

When params `ab` asks for a challenger and the registry has a champion (serving.champion), the
champion goes into the store too, and the workspace's model records its tag: the bento built next
holds both, the workspace's model as the challenger.
"""

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import bentoml

from mlloop.config import AbParams, AbSettings, Params, ServeParams, ServiceSettings
from mlloop.serving.champion import Champion, lineup
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


def _import_champion(champion: Champion) -> str:
    """Copy the champion's model and model.json into the store, labelled with its version; return its tag."""
    staged = champion.staged
    labels = {
        "git_sha": staged.commit[:12],
        "dvc_md5": champion.model_md5,
        "version": staged.version,
        "stage": staged.stage,
    } | _headline(champion.metrics)
    stored = {"threshold": champion.metadata["threshold"], "estimator": champion.metadata["estimator"]}
    with bentoml.models.create(CHAMPION_NAME, labels=labels, metadata=stored) as model:
        Path(model.path_of(MODEL_FILE)).write_bytes(champion.model_file)
        Path(model.path_of(METADATA_FILE)).write_text(json.dumps(champion.metadata))
    return str(model.tag)


def import_model(params: Params) -> str:
    """Copy models/model.joblib into the store with its metadata, and the champion when there is one to
    serve beside it; say which tags hold what, and why.
    """
    metadata: dict[str, Any] = read_json(require(params.paths.model_metadata, "train"))
    metrics: dict[str, float] = read_json(require(params.paths.metrics, "evaluate"))
    model_md5 = revisions.locked_md5(require(revisions.DVC_LOCK, "train").read_bytes(), params.paths.model)
    labels = {"git_sha": revisions.head()[:12], "dvc_md5": model_md5 or "untracked"} | _headline(metrics)
    served = lineup(params, MODEL_NAME, model_md5, metadata)
    # The metadata holds what the service reads at start-up; the full model.json (schema included) is a file.
    stored = {
        "threshold": metadata["threshold"],
        "estimator": metadata["estimator"],
        SERVICE_SETTINGS: stored_service_settings(params.serve),
        AB_SETTINGS: stored_ab_settings(params.ab),
    }
    champion = _import_champion(served.champion) if served.champion else None
    if champion:
        stored[CHAMPION] = champion
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
    )
    with atomic_outputs(params.serve.model_card) as (card_path,):
        card_path.write_text(card)
    with bentoml.models.create(MODEL_NAME, labels=labels, metadata=stored) as model:
        shutil.copyfile(require(params.paths.model, "train"), model.path_of(MODEL_FILE))
        shutil.copyfile(params.paths.model_metadata, model.path_of(METADATA_FILE))
        shutil.copyfile(params.serve.model_card, model.path_of(CARD_FILE))
    if champion is None:
        return f"{model.tag}: the champion\n{served.reason}"
    return f"{model.tag}: the challenger\n{champion}: the champion\n{served.reason}"
