"""Put the trained model into the BentoML model store, labelled so a running service can be
traced back to its commit, its DVC-tracked file and its metrics, with its model card.
"""

import os
import shutil
from collections.abc import Mapping
from typing import Any

import bentoml

from mlloop.config import Params, ServeParams, ServiceSettings
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


def stored_service_settings(serve: ServeParams) -> dict[str, Any]:
    """The ServiceSettings part of params serve, in JSON types: BentoML keeps metadata in the model's YAML file."""
    return serve.model_dump(mode="json", include=set(ServiceSettings.model_fields))


def service_settings(metadata: Mapping[str, Any]) -> ServiceSettings:
    """The service's settings as import_model stored them with the model, validated again."""
    return ServiceSettings.model_validate(metadata[SERVICE_SETTINGS])


def import_model(params: Params) -> str:
    """Copy models/model.joblib into the store with its metadata; return the new tag."""
    metadata: dict[str, Any] = read_json(require(params.paths.model_metadata, "train"))
    metrics: dict[str, float] = read_json(require(params.paths.metrics, "evaluate"))
    model_md5 = revisions.locked_md5(require(revisions.DVC_LOCK, "train").read_bytes(), params.paths.model)
    labels = {"git_sha": revisions.head()[:12], "dvc_md5": model_md5 or "untracked"} | {
        name: f"{metrics[name]:.4f}" for name in HEADLINE_METRICS
    }
    # The metadata holds what the service reads at start-up; the full model.json (schema included) is a file.
    stored = {
        "threshold": metadata["threshold"],
        "estimator": metadata["estimator"],
        SERVICE_SETTINGS: stored_service_settings(params.serve),
    }
    card = render_model_card(
        MODEL_NAME,
        metadata,
        metrics,
        read_json(require(params.paths.model_perf, "evaluate")),
        params.data.source,
        params.serve.intended_use,
        params.serve.limitations,
        [os.path.relpath(png, params.serve.model_card.parent) for png in sorted(params.paths.plots.glob("*.png"))],
    )
    with atomic_outputs(params.serve.model_card) as (card_path,):
        card_path.write_text(card)
    with bentoml.models.create(MODEL_NAME, labels=labels, metadata=stored) as model:
        shutil.copyfile(require(params.paths.model, "train"), model.path_of(MODEL_FILE))
        shutil.copyfile(params.paths.model_metadata, model.path_of(METADATA_FILE))
        shutil.copyfile(params.serve.model_card, model.path_of(CARD_FILE))
    return str(model.tag)
