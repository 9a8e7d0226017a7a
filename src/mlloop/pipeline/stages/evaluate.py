"""Stage `evaluate`: the model on the test table → metrics, performance, predictions and plots."""

import pandas as pd

from mlloop.config import Params
from mlloop.core.schema import features_and_label, load_schema
from mlloop.pipeline import evaluation, plots
from mlloop.storage.artifacts import load_model, read_table, write_table
from mlloop.storage.files import atomic_outputs, json_text

CURVE_FILES = {
    "roc": "roc.csv",
    "precision_recall": "precision_recall.csv",
    "confusion": "confusion.csv",
    "calibration": "calibration.csv",
    "importance": "importance.csv",
}


def run(params: Params) -> None:
    """Score the test split once and derive every evaluation output from those scores."""
    schema = load_schema(params.data.schema_file)
    test = read_table(params.paths.test, "split")
    fitted = load_model(params.paths.model)
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
    latency = evaluation.prediction_latency(fitted, features, params.evaluate.latency)
    performance = {"model_size_bytes": params.paths.model.stat().st_size} | latency
    paths = params.paths
    outputs = (paths.metrics, paths.model_perf, paths.predictions, paths.plot_data, paths.plots)
    with atomic_outputs(*outputs) as (metrics_path, perf_path, predictions_path, plot_data_dir, plots_dir):
        metrics_path.write_text(json_text(metrics))
        perf_path.write_text(json_text(performance))
        write_table(predictions, predictions_path)
        plot_data_dir.mkdir()
        for name, points in curves.items():
            points.to_csv(plot_data_dir / CURVE_FILES[name], index=False)
        plots.render_plots(curves, plots_dir)
