"""Put the trained model into the BentoML model store, labelled so a running service can be
traced back to its commit, its DVC-tracked file and its metrics, with its model card.
"""

import os
import shutil
from typing import Any

import bentoml

from mlloop.config import Params
from mlloop.serving.model_card import render_model_card
from mlloop.storage import revisions
from mlloop.storage.artifacts import require
from mlloop.storage.files import atomic_outputs, read_json

MODEL_NAME = "churn"
"""The model's name in the BentoML store; bento/service.py serves `churn:latest`."""
HEADLINE_METRICS = ("roc_auc", "average_precision", "f1")
MODEL_FILE = "model.joblib"
LOG_DIRECTORY_VARIABLE = "MLLOOP_INFERENCE_LOG_DIR"
"""Overrides, for a running service, the inference-log directory stored with the model from params."""
METADATA_FILE = "model.json"
CARD_FILE = "MODEL_CARD.md"


def import_model(params: Params) -> str:
    """Copy models/model.joblib into the store with its metadata; return the new tag."""
    metadata: dict[str, Any] = read_json(require(params.paths.model_metadata, "train"))
    metrics: dict[str, float] = read_json(require(params.paths.metrics, "evaluate"))
    model_md5 = revisions.locked_md5(require(revisions.DVC_LOCK, "train").read_bytes(), params.paths.model)
    labels = {"git_sha": revisions.head()[:12], "dvc_md5": model_md5 or "untracked"} | {
        name: f"{metrics[name]:.4f}" for name in HEADLINE_METRICS
    }
    # Only scalars fit BentoML's metadata; the full model.json (schema included) travels as a file.
    scalars = {
        "threshold": metadata["threshold"],
        "estimator": metadata["estimator"],
        "inference_log_dir": params.serve.inference_log_dir.as_posix(),
        "max_request_bytes": params.serve.max_request_bytes,
        "max_batch_size": params.serve.max_batch_size,
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
    with bentoml.models.create(MODEL_NAME, labels=labels, metadata=scalars) as model:
        shutil.copyfile(require(params.paths.model, "train"), model.path_of(MODEL_FILE))
        shutil.copyfile(params.paths.model_metadata, model.path_of(METADATA_FILE))
        shutil.copyfile(params.serve.model_card, model.path_of(CARD_FILE))
    return str(model.tag)
