"""The DVC stages on temporary paths: each reads its inputs through params and writes all its outputs."""

import hashlib
import json
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import joblib
import pandas as pd
import pytest
import sklearn

from mlloop.config import Params
from mlloop.core.schema import FeatureSchema
from mlloop.errors import ConfigError, DataValidationError, SourceError
from mlloop.pipeline.stages import evaluate as evaluate_stage
from mlloop.pipeline.stages import ingest as ingest_stage
from mlloop.pipeline.stages import split as split_stage
from mlloop.pipeline.stages import train as train_stage
from mlloop.pipeline.stages import validate as validate_stage

METRIC_KEYS = {"roc_auc", "average_precision", "f1", "precision", "recall", "accuracy", "log_loss", "brier"}
PERFORMANCE_KEYS = {
    "model_size_bytes",
    "single_row_latency_ms_p50",
    "single_row_latency_ms_p95",
    "batch_rows",
    "batch_latency_ms_p50",
    "batch_latency_ms_p95",
    "batch_rows_per_second",
}
PLOT_DATA_FILES = {"roc.csv", "precision_recall.csv", "confusion.csv", "calibration.csv", "importance.csv"}
PLOT_FILES = {
    "roc.png",
    "precision_recall.png",
    "calibration.png",
    "confusion_matrix.png",
    "feature_importance.png",
}


@pytest.fixture
def fast_params(params: Params) -> Params:
    """The real params on tmp paths, with the evaluate stage's timing and importance work cut down."""
    evaluate = params.evaluate.model_copy(
        update={
            "importance": params.evaluate.importance.model_copy(update={"repeats": 1}),
            "latency": params.evaluate.latency.model_copy(
                update={"single_row_calls": 3, "batch_rows": 50, "batch_calls": 2}
            ),
        }
    )
    return params.model_copy(update={"evaluate": evaluate})


def _write_raw(table: pd.DataFrame, params: Params) -> None:
    params.paths.raw.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(params.paths.raw, index=False)


@pytest.fixture
def trained(fast_params: Params, valid_table: pd.DataFrame) -> Params:
    """Params whose raw table has been validated, split and trained on."""
    _write_raw(valid_table, fast_params)
    validate_stage.run(fast_params)
    split_stage.run(fast_params)
    train_stage.run(fast_params)
    return fast_params


def _read_json(path: Path) -> dict[str, object]:
    document = json.loads(path.read_text())
    assert isinstance(document, dict)
    return document


def test_ingest_writes_the_renamed_source_as_the_raw_table(
    params: Params, valid_table: pd.DataFrame, tmp_path: Path
) -> None:
    # given: a CSV source whose id column needs renaming
    source = tmp_path / "export.csv"
    valid_table.rename(columns={"customer_id": "rownames"}).to_csv(source, index=False)
    data = params.data.model_copy(update={"source": str(source)})

    # when
    ingest_stage.run(params.model_copy(update={"data": data}))

    # then
    raw = pd.read_parquet(params.paths.raw)
    assert list(raw.columns) == list(valid_table.columns)
    assert len(raw) == len(valid_table)


def test_validate_writes_a_passing_report_for_a_valid_table(params: Params, valid_table: pd.DataFrame) -> None:
    _write_raw(valid_table, params)

    validate_stage.run(params)

    report = _read_json(params.paths.validation_report)
    assert report["status"] == "passed"
    assert report["rows"] == len(valid_table)


def test_validate_writes_the_report_and_raises_when_the_table_breaks_the_schema(
    params: Params, valid_table: pd.DataFrame
) -> None:
    # given
    broken = valid_table.copy()
    broken.loc[0, "contract"] = "Three year"
    _write_raw(broken, params)

    # when
    with pytest.raises(DataValidationError) as raised:
        validate_stage.run(params)

    # then: the report is there to read, and the error says what broke where
    report = _read_json(params.paths.validation_report)
    assert report["status"] == "failed"
    assert isinstance(report["failures"], list)
    assert len(report["failures"]) == 1
    message = str(raised.value)
    assert str(params.paths.raw) in message, message
    assert "'contract'" in message, message
    assert "Three year" in message, message


def test_split_writes_the_three_pools_covering_the_raw_table_each_customer_once(
    params: Params, valid_table: pd.DataFrame, schema: FeatureSchema
) -> None:
    _write_raw(valid_table, params)
    validate_stage.run(params)

    split_stage.run(params)

    paths = params.paths
    pools = [pd.read_parquet(path)[schema.id_column] for path in (paths.train, paths.traffic, paths.test)]
    assert all(len(pool) for pool in pools), [len(pool) for pool in pools]
    assert sorted(pd.concat(pools)) == sorted(valid_table[schema.id_column])


def test_split_refuses_a_table_that_failed_validation(params: Params, valid_table: pd.DataFrame) -> None:
    # given: validate ran on a broken table (as when someone runs `mlloop split` by hand afterwards)
    broken = valid_table.copy()
    broken.loc[0, "contract"] = "Three year"
    _write_raw(broken, params)
    with pytest.raises(DataValidationError):
        validate_stage.run(params)

    # when / then
    with pytest.raises(DataValidationError, match="did not pass validation"):
        split_stage.run(params)
    assert not params.paths.train.exists()
    assert not params.paths.traffic.exists()
    assert not params.paths.test.exists()


def test_a_model_file_that_is_not_a_pipeline_is_a_source_error(trained: Params) -> None:
    joblib.dump({"not": "a model"}, trained.paths.model)

    with pytest.raises(SourceError, match="not a scikit-learn Pipeline"):
        evaluate_stage.run(trained)


def test_train_writes_the_model_and_its_metadata(trained: Params, schema: FeatureSchema) -> None:
    paths = trained.paths

    model = joblib.load(paths.model)
    metadata = _read_json(paths.model_metadata)

    assert hasattr(model, "predict_proba")
    assert metadata["estimator"] == trained.train.estimator
    assert metadata["hyperparameters"] == trained.train.hyperparameters
    assert metadata["seed"] == trained.train.seed
    assert metadata["threshold"] == trained.train.threshold
    assert metadata["schema"] == schema.model_dump(mode="json"), "the service rebuilds its inputs from this"
    training_data = metadata["training_data"]
    assert isinstance(training_data, dict)
    assert training_data["sha256"] == hashlib.sha256(paths.train.read_bytes()).hexdigest()
    assert training_data["rows"] == len(pd.read_parquet(paths.train))
    libraries = metadata["libraries"]
    assert isinstance(libraries, dict)
    assert libraries["scikit-learn"] == sklearn.__version__, "a model must name the library that can load it"
    assert libraries["pandas"] == pd.__version__
    assert {"python", "numpy", "pyarrow", "joblib", "mlloop"} <= libraries.keys()
    assert libraries["mlloop"] == version("mlloop")


def test_evaluate_produces_every_output_in_params(trained: Params) -> None:
    # when
    evaluate_stage.run(trained)

    # then: the whole pipeline has written every path that params.yaml names
    missing = [name for name, path in trained.paths if not Path(path).exists()]
    assert missing == [], f"outputs not written: {missing}"
    assert {path.name for path in trained.paths.plot_data.iterdir()} == PLOT_DATA_FILES
    assert {path.name for path in trained.paths.plots.iterdir()} == PLOT_FILES


def test_evaluate_writes_metrics_performance_and_predictions(trained: Params) -> None:
    evaluate_stage.run(trained)

    metrics = _read_json(trained.paths.metrics)
    assert metrics.keys() == METRIC_KEYS
    assert all(isinstance(value, float) for value in metrics.values()), metrics
    performance = _read_json(trained.paths.model_perf)
    assert performance.keys() == PERFORMANCE_KEYS
    assert performance["model_size_bytes"] == trained.paths.model.stat().st_size
    assert performance["batch_rows"] == trained.evaluate.latency.batch_rows
    predictions = pd.read_parquet(trained.paths.predictions)
    test = pd.read_parquet(trained.paths.test)
    assert predictions["customer_id"].tolist() == test["customer_id"].tolist()
    assert predictions["churn_probability"].between(0, 1).all()
    confusion = pd.read_csv(trained.paths.plot_data / "confusion.csv")
    assert len(confusion) == len(test), "DVC's confusion template wants one row per test example"


Stage = Callable[[Params], None]


def _nothing(params: Params, table: pd.DataFrame) -> None:
    """No input at all."""


def _raw_only(params: Params, table: pd.DataFrame) -> None:
    _write_raw(table, params)


def _split_without_model(params: Params, table: pd.DataFrame) -> None:
    _write_raw(table, params)
    validate_stage.run(params)
    split_stage.run(params)


@pytest.mark.parametrize(
    ("stage", "prepare", "missing", "stage_to_run"),
    [
        pytest.param(validate_stage.run, _nothing, "raw", "ingest", id="validate without raw"),
        pytest.param(split_stage.run, _raw_only, "validation_report", "validate", id="split unvalidated"),
        pytest.param(train_stage.run, _nothing, "train", "split", id="train without train"),
        pytest.param(evaluate_stage.run, _nothing, "test", "split", id="evaluate without test"),
        pytest.param(evaluate_stage.run, _split_without_model, "model", "train", id="evaluate without model"),
    ],
)
def test_missing_input_is_a_source_error_naming_the_path_and_the_stage_to_run(
    params: Params,
    valid_table: pd.DataFrame,
    stage: Stage,
    prepare: Callable[[Params, pd.DataFrame], None],
    missing: str,
    stage_to_run: str,
) -> None:
    prepare(params, valid_table)

    with pytest.raises(SourceError) as raised:
        stage(params)

    message = str(raised.value)
    assert str(getattr(params.paths, missing)) in message, message
    assert f"'{stage_to_run}' stage" in message, message


def test_corrupt_input_file_is_a_source_error_naming_the_path(params: Params) -> None:
    # given: a raw table cut short, as by an interrupted copy
    params.paths.raw.parent.mkdir(parents=True)
    params.paths.raw.write_bytes(b"PAR1 truncated")

    with pytest.raises(SourceError) as raised:
        validate_stage.run(params)
    assert str(params.paths.raw) in str(raised.value)


def test_failed_training_leaves_neither_model_file_behind(params: Params, valid_table: pd.DataFrame) -> None:
    # given: a split table and an out-of-range hyperparameter
    _split_without_model(params, valid_table)
    train = params.train.model_copy(update={"hyperparameters": params.train.hyperparameters | {"learning_rate": -1}})

    # when
    with pytest.raises(ConfigError, match="learning_rate"):
        train_stage.run(params.model_copy(update={"train": train}))

    # then
    models_directory = params.paths.model.parent
    assert not params.paths.model.exists()
    assert not params.paths.model_metadata.exists()
    assert not models_directory.exists() or list(models_directory.iterdir()) == [], "no temporary file"
