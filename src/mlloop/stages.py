"""
The DVC stages: each reads its inputs through params, calls the pure logic, and
writes all of its outputs atomically (see files.atomic_outputs).
"""

import platform
from importlib.metadata import version
from pathlib import Path

import joblib
import pandas as pd
from sklearn.pipeline import Pipeline

from mlloop import data, evaluation, model, plots
from mlloop.config import Params
from mlloop.errors import DataValidationError, SourceError
from mlloop.files import atomic_outputs, json_text, sha256_of, write_json
from mlloop.schema import FeatureSchema, features_and_label, load_schema

RECORDED_LIBRARIES = ("scikit-learn", "pandas", "numpy", "pyarrow", "joblib", "mlloop")
CURVE_FILES = {
    "roc": "roc.csv",
    "precision_recall": "precision_recall.csv",
    "confusion": "confusion.csv",
    "calibration": "calibration.csv",
    "importance": "importance.csv",
}


def _require(path: Path, produced_by: str) -> Path:
    if not path.exists():
        raise SourceError(f"{path}: not found; run the '{produced_by}' stage first (dvc repro {produced_by})")
    return path


def _read_table(path: Path, produced_by: str) -> pd.DataFrame:
    return pd.read_parquet(_require(path, produced_by))


def _write_table(table: pd.DataFrame, path: Path) -> None:
    table.to_parquet(path, index=False)


def run_ingest(params: Params) -> None:
    """Source → raw table, with the schema's column names."""
    table = data.ingest(params.data.source, params.data.rename)
    with atomic_outputs(params.paths.raw) as (raw,):
        _write_table(table, raw)


def run_validate(params: Params) -> None:
    """Raw table → validation report, written either way; DataValidationError (exit 3) on any broken rule."""
    schema = load_schema(params.data.schema_file)
    table = _read_table(params.paths.raw, "ingest")
    report = data.validate_table(table, schema)
    write_json(params.paths.validation_report, report.to_json())
    if not report.passed:
        messages = "\n".join(failure.message() for failure in report.failures)
        raise DataValidationError(
            f"{params.paths.raw} broke the schema in {params.data.schema_file}:\n{messages}"
        )


def run_split(params: Params) -> None:
    """Raw table → stratified train and test tables."""
    _require(params.paths.validation_report, "validate")
    schema = load_schema(params.data.schema_file)
    table = _read_table(params.paths.raw, "ingest")
    train, test = data.split_table(table, schema, params.split.test_size, params.split.seed)
    with atomic_outputs(params.paths.train, params.paths.test) as (train_path, test_path):
        _write_table(train, train_path)
        _write_table(test, test_path)


def _model_metadata(
    params: Params, schema: FeatureSchema, train: pd.DataFrame, label: pd.Series
) -> dict[str, object]:
    return {
        "estimator": params.train.estimator,
        "hyperparameters": params.train.hyperparameters,
        "seed": params.train.seed,
        "threshold": params.train.threshold,
        "schema": schema.model_dump(mode="json"),
        "training_data": {
            "path": str(params.paths.train),
            "sha256": sha256_of(params.paths.train),
            "rows": len(train),
            "positive_rate": float(label.mean()),
        },
        "libraries": {"python": platform.python_version()}
        | {name: version(name) for name in RECORDED_LIBRARIES},
    }


def run_train(params: Params) -> None:
    """Train table → fitted Pipeline plus its metadata (schema, params, data hash, versions)."""
    schema = load_schema(params.data.schema_file)
    train = _read_table(params.paths.train, "split")
    features, label = features_and_label(train, schema)
    pipeline = model.build_pipeline(
        schema, params.train.estimator, params.train.hyperparameters, params.train.seed
    )
    fitted = model.fit(pipeline, features, label)
    metadata = _model_metadata(params, schema, train, label)
    with atomic_outputs(params.paths.model, params.paths.model_metadata) as (model_path, metadata_path):
        joblib.dump(fitted, model_path)
        metadata_path.write_text(json_text(metadata))


def run_evaluate(params: Params) -> None:
    """Model + test table → metrics, performance figures, predictions, plot data and PNGs."""
    schema = load_schema(params.data.schema_file)
    test = _read_table(params.paths.test, "split")
    fitted: Pipeline = joblib.load(_require(params.paths.model, "train"))
    features, label = features_and_label(test, schema)
    threshold = params.train.threshold
    probability = evaluation.churn_probability(fitted, features)
    metrics = evaluation.classification_metrics(label, probability, threshold)
    curves = {
        "roc": evaluation.roc_points(label, probability),
        "precision_recall": evaluation.precision_recall_points(label, probability),
        "confusion": evaluation.confusion_rows(label, probability, threshold, schema),
        "calibration": evaluation.calibration_points(label, probability, params.evaluate.calibration_bins),
        "importance": evaluation.feature_importance(fitted, features, label, params.evaluate.importance),
    }
    predictions = pd.DataFrame(
        {schema.id_column: test[schema.id_column], "label": label, "churn_probability": probability}
    )
    performance = {"model_size_bytes": params.paths.model.stat().st_size} | evaluation.prediction_latency(
        fitted, features, params.evaluate.latency
    )
    paths = params.paths
    with atomic_outputs(paths.metrics, paths.model_perf, paths.predictions, paths.plot_data, paths.plots) as (
        metrics_path,
        perf_path,
        predictions_path,
        plot_data_dir,
        plots_dir,
    ):
        metrics_path.write_text(json_text(metrics))
        perf_path.write_text(json_text(performance))
        _write_table(predictions, predictions_path)
        plot_data_dir.mkdir()
        for name, points in curves.items():
            points.to_csv(plot_data_dir / CURVE_FILES[name], index=False)
        plots.render_plots(curves, plots_dir)
