"""The model process gives the row predictor's probabilities for rows as the service holds them
(dicts, in any key order), and a child that dies costs the call in flight, not the next one. A
champion and a challenger share the one child and the one call, each scoring the rows it is given."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import psutil
import pytest
from sklearn.pipeline import Pipeline
from tests.model_processes import model_processes
from threadpoolctl import threadpool_info

from mlloop.core.model import build_pipeline, fit
from mlloop.core.schema import FeatureSchema, features_and_label
from mlloop.serving.model_process import ModelProcess

HYPERPARAMETERS = {"max_iter": 10}


@pytest.fixture
def fitted(schema: FeatureSchema, valid_table: pd.DataFrame) -> Pipeline:
    features, label = features_and_label(valid_table, schema)
    return fit(build_pipeline(schema, "hist_gradient_boosting", HYPERPARAMETERS, 7), features, label)


@pytest.fixture
def features(schema: FeatureSchema, valid_table: pd.DataFrame) -> pd.DataFrame:
    table_features, _ = features_and_label(valid_table, schema)
    return table_features


@pytest.fixture
def model_process(fitted: Pipeline, schema: FeatureSchema, tmp_path: Path) -> Iterator[ModelProcess]:
    path = tmp_path / "model.joblib"
    joblib.dump(fitted, path)
    process = ModelProcess({"champion": path}, schema, threads=1)
    yield process
    process.close()


@pytest.fixture
def challenger(schema: FeatureSchema, valid_table: pd.DataFrame) -> Pipeline:
    """Another model of the same features: another estimator."""
    features, label = features_and_label(valid_table, schema)
    return fit(build_pipeline(schema, "logistic_regression", {}, 7), features, label)


@pytest.fixture
def two_models(fitted: Pipeline, challenger: Pipeline, schema: FeatureSchema, tmp_path: Path) -> Iterator[ModelProcess]:
    joblib.dump(fitted, tmp_path / "champion.joblib")
    joblib.dump(challenger, tmp_path / "challenger.joblib")
    process = ModelProcess(
        {"champion": tmp_path / "champion.joblib", "challenger": tmp_path / "challenger.joblib"}, schema, threads=1
    )
    yield process
    process.close()


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as the HTTP contract delivers them: plain values, None for a null."""
    plain = frame.astype(object).where(frame.notna(), None)
    return [{str(name): value for name, value in record.items()} for record in plain.to_dict(orient="records")]


def _model_process_pids() -> set[int]:
    return {process.pid for process in model_processes(psutil.Process())}


def test_probabilities_are_the_pipelines_predict_proba(
    model_process: ModelProcess, fitted: Pipeline, features: pd.DataFrame
) -> None:
    probabilities = model_process.probabilities(_records(features))

    assert probabilities.keys() == {"champion"}
    assert np.array_equal(probabilities["champion"], fitted.predict_proba(features)[:, 1])


def test_the_order_of_keys_in_a_row_does_not_matter(
    model_process: ModelProcess, fitted: Pipeline, features: pd.DataFrame
) -> None:
    reversed_keys = [dict(reversed(row.items())) for row in _records(features)]

    probabilities = model_process.probabilities(reversed_keys)

    assert np.array_equal(probabilities["champion"], fitted.predict_proba(features)[:, 1])


def test_a_killed_model_process_fails_the_call_in_flight_and_is_replaced_for_the_next(
    model_process: ModelProcess, fitted: Pipeline, features: pd.DataFrame
) -> None:
    # given: a running model process
    model_process.probabilities(_records(features.iloc[[0]]))
    (pid,) = _model_process_pids()

    # when: something kills it
    psutil.Process(pid).kill()

    # then: the next call fails, and the one after runs in a new process
    with pytest.raises(Exception, match="terminated abruptly"):
        model_process.probabilities(_records(features))
    probabilities = model_process.probabilities(_records(features))
    assert np.array_equal(probabilities["champion"], fitted.predict_proba(features)[:, 1])
    assert _model_process_pids() - {pid}
    time.sleep(1.0)
    assert model_process.busy_share() < 0.5, "the failed call still counts as in the child"


def test_the_busy_share_follows_the_time_a_call_was_in_the_model_process(
    model_process: ModelProcess, features: pd.DataFrame
) -> None:
    # given: an idle model process, then one held up by a second's work (what a large call costs), which a call
    # must wait behind; work the service did not send is no call of its own
    assert model_process.busy_share() < 0.05
    model_process._pool.submit(time.sleep, 1.0)
    assert model_process.busy_share() < 0.05

    # when: the call waits its second, and is answered
    model_process.probabilities(_records(features))

    # then: the share rose towards 1 (1 - e^-1 after a second), and falls again once the child is idle
    after_the_call = model_process.busy_share()
    assert after_the_call > 0.5
    time.sleep(1.0)
    assert model_process.busy_share() < after_the_call / 2


@pytest.mark.usefixtures("model_process")
def test_the_model_is_loaded_before_the_first_call() -> None:
    # the service reports ready once its ModelProcess exists: the model must be there by then
    assert len(_model_process_pids()) == 1


@pytest.mark.parametrize("threads", [1, 2])
def test_the_model_process_runs_the_given_number_of_openmp_threads(
    fitted: Pipeline, schema: FeatureSchema, tmp_path: Path, threads: int
) -> None:
    path = tmp_path / "model.joblib"
    joblib.dump(fitted, path)
    process = ModelProcess({"champion": path}, schema, threads)
    try:
        libraries = process._pool.submit(threadpool_info).result()
    finally:
        process.close()

    openmp = [library["num_threads"] for library in libraries if library["user_api"] == "openmp"]
    assert openmp == [threads], f"the child's OpenMP libraries: {libraries}"


def test_champion_and_challenger_each_score_every_row_in_one_call_of_one_process(
    two_models: ModelProcess, fitted: Pipeline, challenger: Pipeline, features: pd.DataFrame
) -> None:
    probabilities = two_models.probabilities(_records(features), {"champion": None, "challenger": None})

    assert np.array_equal(probabilities["champion"], fitted.predict_proba(features)[:, 1])
    assert np.array_equal(probabilities["challenger"], challenger.predict_proba(features)[:, 1])
    assert not np.array_equal(probabilities["champion"], probabilities["challenger"]), "two different models"
    assert len(_model_process_pids()) == 1, "both models live in the one model process"


def test_each_model_scores_only_the_rows_it_is_given_in_their_order(
    two_models: ModelProcess, fitted: Pipeline, challenger: Pipeline, features: pd.DataFrame
) -> None:
    champion_rows, challenger_rows = [4, 0, 2], [1, 3]

    probabilities = two_models.probabilities(
        _records(features.iloc[:5]), {"champion": champion_rows, "challenger": challenger_rows}
    )

    assert np.array_equal(probabilities["champion"], fitted.predict_proba(features.iloc[champion_rows])[:, 1])
    assert np.array_equal(probabilities["challenger"], challenger.predict_proba(features.iloc[challenger_rows])[:, 1])


def test_a_model_given_no_rows_answers_an_empty_list(two_models: ModelProcess, features: pd.DataFrame) -> None:
    probabilities = two_models.probabilities(_records(features.iloc[:2]), {"champion": [0, 1], "challenger": []})

    assert probabilities["challenger"] == []
    assert len(probabilities["champion"]) == 2
