"""Stage `train`: the train table → the fitted model and its metadata."""

import platform
from importlib.metadata import version

import joblib
import pandas as pd

from mlloop.config import Params
from mlloop.core import model
from mlloop.core.schema import FeatureSchema, features_and_label, load_schema
from mlloop.storage.artifacts import read_table
from mlloop.storage.files import atomic_outputs, json_text, sha256_of

RECORDED_LIBRARIES = ("scikit-learn", "pandas", "numpy", "pyarrow", "joblib", "mlloop")


def model_metadata(params: Params, schema: FeatureSchema, label: pd.Series) -> dict[str, object]:
    """What a model needs to be traced and served: schema, params, data hash, library versions."""
    return {
        "estimator": params.train.estimator,
        "hyperparameters": params.train.hyperparameters,
        "seed": params.train.seed,
        "threshold": params.train.threshold,
        "schema": schema.model_dump(mode="json"),
        "training_data": {
            "path": str(params.paths.train),
            "sha256": sha256_of(params.paths.train),
            "rows": len(label),
            "positive_rate": float(label.mean()),
        },
        "libraries": {"python": platform.python_version()} | {name: version(name) for name in RECORDED_LIBRARIES},
    }


def run(params: Params) -> None:
    """Fit the pipeline chosen in params; write model and metadata together."""
    schema = load_schema(params.data.schema_file)
    features, label = features_and_label(read_table(params.paths.train, "split"), schema)
    pipeline = model.build_pipeline(schema, params.train.estimator, params.train.hyperparameters, params.train.seed)
    fitted = model.fit(pipeline, features, label)
    metadata = model_metadata(params, schema, label)
    with atomic_outputs(params.paths.model, params.paths.model_metadata) as (model_path, metadata_path):
        joblib.dump(fitted, model_path)
        metadata_path.write_text(json_text(metadata))
