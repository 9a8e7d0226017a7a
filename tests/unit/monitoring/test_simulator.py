"""Simulated production traffic: held-out rows of the traffic pool (or, asked for, of the evaluation
pool), day by day, in the service's log format, under scenarios declared as data, with each row's
delayed outcome alongside. The scenarios here are built from whatever columns the schema has, so these
tests hold for any table. Each model is logged under the version tag whose dvc.lock records its md5, as the
model registry names it, and as `simulated:<SHA-256 prefix>` when no version holds it."""

import hashlib
import json
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any, ClassVar, NoReturn

import gto.api
import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import TypeAdapter
from tests.git_cli import IDENTITY, git
from tests.stub_http import JsonHandler, serving

from mlloop.cli import main
from mlloop.config import Params, ScenarioParams, SimulateParams
from mlloop.core.model import build_pipeline
from mlloop.core.schema import FeatureSchema, features_and_label
from mlloop.errors import ConfigError, SourceError
from mlloop.monitoring import simulator
from mlloop.monitoring.label_files import labels_file
from mlloop.monitoring.log_window import read_window
from mlloop.monitoring.outcomes import read_labels
from mlloop.monitoring.simulator import SimulationSummary, customer_records, day_traffic
from mlloop.serving.inference_log import LOG_FILE_GLOB, log_file
from mlloop.storage.files import sha256_of, write_json

START = date(2026, 3, 1)
SEED = 11
THRESHOLD = 0.5
TIMEOUT_SECONDS = 30.0
"""How long the simulator waits for the stub service, unless a test is about the wait."""
LOG_KEYS = {
    "timestamp", "request_id", "prediction_id", "client_id", "model_version", "features", "churn_probability", "churn",
    "variant", "challenger_version", "challenger_probability",
}  # fmt: skip
"""The keys of every line the service's InferenceLog writes."""
UNKNOWN_LABEL = "Never seen"
EVALUATION_ID_OFFSET = 100_000
"""The evaluation pool here is valid_table's customers again, under ids this much higher."""


def _category(schema: FeatureSchema) -> str:
    """The first categorical feature: the scenarios below relabel it."""
    names = [name for name, feature in schema.categorical_features.items() if len(feature.categories) >= 2]
    if not names:
        pytest.skip("the schema has no categorical feature with two labels")
    return names[0]


def _scenarios(schema: FeatureSchema) -> dict[str, ScenarioParams]:
    """One scenario per kind of behaviour the simulator adds to the shifts, on the schema's own columns."""
    category = _category(schema)
    labels = schema.categorical_features[category].categories
    declared = {
        "none": {"expected": "no_drift", "shifts": []},
        "relabel": {
            "expected": "drift",
            "shifts": [
                {
                    "kind": "move_labels",
                    "column": category,
                    "from_labels": labels[1:],
                    "to_label": labels[0],
                    "share": 0.35,
                }
            ],
        },
        "unknown": {
            "expected": "contract_breach",
            "shifts": [{"kind": "unknown_label", "column": category, "label": UNKNOWN_LABEL, "share": 0.25}],
        },
        "silent": {"expected": "stale", "shifts": [{"kind": "stop_logging", "after_day": 2}]},
        "torn": {"expected": "contract_breach", "shifts": [{"kind": "corrupt_lines", "share": 0.1}]},
        "decay": {"expected": "degraded", "shifts": [{"kind": "flip_outcomes", "share": 0.3}]},
    }
    return TypeAdapter(dict[str, ScenarioParams]).validate_python(declared)


@pytest.fixture
def simulation_params(params: Params, schema: FeatureSchema, valid_table: pd.DataFrame) -> Params:
    """params whose held-out pools, model and model metadata exist under tmp_path (a small fitted pipeline),
    with the scenarios of this module declared: valid_table is the traffic pool, and the evaluation pool
    (the test split) the same customers under other ids."""
    params.paths.test.parent.mkdir(parents=True)
    valid_table.to_parquet(params.paths.traffic, index=False)
    evaluation = valid_table.assign(**{schema.id_column: valid_table[schema.id_column] + EVALUATION_ID_OFFSET})
    evaluation.to_parquet(params.paths.test, index=False)
    features, label = features_and_label(valid_table, schema)
    pipeline = build_pipeline(schema, "logistic_regression", {}, seed=0).fit(features, label)
    params.paths.model.parent.mkdir(parents=True)
    joblib.dump(pipeline, params.paths.model)
    write_json(params.paths.model_metadata, {"threshold": THRESHOLD})
    simulate = params.simulate.model_copy(update={"scenario": "none", "scenarios": _scenarios(schema)})
    return params.model_copy(update={"simulate": simulate})


def _settings(
    params: Params, scenario: str = "none", days: int = 3, rows: int = 200, seed: int = SEED
) -> SimulateParams:
    return params.simulate.model_copy(
        update={
            "scenario": scenario,
            "days": days,
            "rows_per_day": rows,
            "seed": seed,
            "request_timeout_seconds": TIMEOUT_SECONDS,
        }
    )


def _simulate(
    params: Params, out: Path, scenario: str = "none", days: int = 3, rows: int = 200, seed: int = SEED
) -> SimulationSummary:
    return simulator.simulate(params, _settings(params, scenario, days, rows, seed), START, out)


def _days(count: int) -> list[date]:
    return [START + timedelta(days=index) for index in range(count)]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _logged_features(out: Path, day: date) -> pd.DataFrame:
    return pd.DataFrame([line["features"] for line in _lines(log_file(out, day))])


def _as_key(customer: dict[str, Any]) -> str:
    return json.dumps(customer, sort_keys=True)


def test_a_seed_gives_byte_identical_logs_and_labels_twice_and_another_seed_does_not(
    simulation_params: Params, tmp_path: Path
) -> None:
    first = _simulate(simulation_params, tmp_path / "first", "relabel")
    second = _simulate(simulation_params, tmp_path / "second", "relabel")
    other_seed = _simulate(simulation_params, tmp_path / "other", "relabel", seed=SEED + 1)

    assert len(first.files) == 6, "a log file and a labels file per day"
    for path, again, other in zip(first.files, second.files, other_seed.files, strict=True):
        assert path.read_bytes() == again.read_bytes(), f"{path.name} differs between two runs with one seed"
        assert path.read_bytes() != other.read_bytes(), f"{path.name} does not depend on the seed"


def test_each_day_file_holds_rows_per_day_lines_in_the_service_format_stamped_within_that_utc_day(
    simulation_params: Params, schema: FeatureSchema, valid_table: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "production"

    summary = _simulate(simulation_params, out, days=3, rows=120)

    assert sorted(out.glob(LOG_FILE_GLOB)) == [log_file(out, day) for day in _days(3)]
    assert [(result.day, result.delivered, result.refused) for result in summary.days] == [
        (day, 120, 0) for day in _days(3)
    ]
    expected_version = "simulated:" + sha256_of(simulation_params.paths.model)[:12]
    held_out_ids = set(valid_table[schema.id_column].astype(str))
    request_ids: set[str] = set()
    for day in _days(3):
        lines = _lines(log_file(out, day))
        assert len(lines) == 120
        moments = [datetime.fromisoformat(line["timestamp"]) for line in lines]
        assert all(moment.tzinfo == UTC and moment.date() == day for moment in moments), f"a timestamp outside {day}"
        assert moments == sorted(moments), "timestamps run forward through the day"
        assert max(moments) - min(moments) > timedelta(hours=12), "traffic is spread over the day"
        for line in lines:
            assert set(line) == LOG_KEYS
            assert list(line["features"]) == schema.feature_names
            assert line["model_version"] == expected_version
            assert 0 <= line["churn_probability"] <= 1
            assert line["churn"] == (line["churn_probability"] >= THRESHOLD)
            assert uuid.UUID(hex=line["request_id"]).version == 4
            assert len(line["request_id"]) == 32
            assert line["prediction_id"] == f"{line['request_id']}-0", "one customer per request"
            assert line["client_id"] in held_out_ids, "the client id is the row's id in the traffic pool"
        request_ids.update(line["request_id"] for line in lines)
    assert len(request_ids) == 3 * 120, "every simulated request has its own id"


def test_logged_lines_read_back_identically_with_a_plain_json_parse(
    simulation_params: Params, schema: FeatureSchema, valid_table: pd.DataFrame, tmp_path: Path
) -> None:
    # given: the first day's traffic, rebuilt from the same seed
    out = tmp_path / "production"
    _simulate(simulation_params, out, days=1, rows=150)
    settings = _settings(simulation_params, days=1, rows=150)
    traffic = day_traffic(valid_table, schema, settings, 0, START, np.random.default_rng(SEED))
    probabilities = joblib.load(simulation_params.paths.model).predict_proba(traffic.features)[:, 1].tolist()

    # when
    lines = _lines(log_file(out, START))

    # then: every value comes back exactly, the probabilities to the last bit
    assert [line["features"] for line in lines] == customer_records(traffic.features, schema)
    assert [line["churn_probability"] for line in lines] == probabilities
    assert [line["timestamp"] for line in lines] == traffic.timestamps
    assert [line["request_id"] for line in lines] == traffic.request_ids


def test_customers_are_rendered_as_the_service_receives_them(schema: FeatureSchema, valid_table: pd.DataFrame) -> None:
    nullable = [name for name, feature in schema.features.items() if feature.max_null_fraction > 0]
    with_null = valid_table[valid_table[nullable].isna().any(axis=1)] if nullable else valid_table
    assert len(with_null) >= 1

    customer = customer_records(with_null, schema)[0]

    assert list(customer) == schema.feature_names
    assert all(customer[name] is None for name in nullable if pd.isna(with_null.iloc[0][name])), (
        "a missing value is JSON null, never NaN"
    )
    for name, feature in schema.numeric_features.items():
        if customer[name] is not None:
            assert type(customer[name]) is (int if feature.type == "integer" else float), name
    assert all(type(customer[name]) is str for name in schema.categorical_features)


def test_none_logs_held_out_customers_exactly_as_they_are(
    simulation_params: Params, schema: FeatureSchema, valid_table: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "production"

    _simulate(simulation_params, out, "none", days=2, rows=300)

    held_out = {_as_key(customer) for customer in customer_records(valid_table, schema)}
    logged = [line["features"] for day in _days(2) for line in _lines(log_file(out, day))]
    assert all(_as_key(customer) in held_out for customer in logged), "a logged customer is not a held-out one"
    assert len({_as_key(customer) for customer in logged}) > len(held_out) / 2, "the sample covers the split"


def test_a_declared_shift_reaches_the_log_and_the_model_still_answers_an_unknown_label(
    simulation_params: Params, schema: FeatureSchema, tmp_path: Path
) -> None:
    out = tmp_path / "production"
    category = _category(schema)

    _simulate(simulation_params, out, "unknown", days=2, rows=200)

    for day in _days(2):
        lines = _lines(log_file(out, day))
        unknown = [line for line in lines if line["features"][category] == UNKNOWN_LABEL]
        assert len(unknown) == 50, "exactly a quarter of 200 rows"
        assert all(0 <= line["churn_probability"] <= 1 for line in unknown), "the model still answers"


def test_a_log_that_stops_writes_nothing_after_its_last_day_so_the_window_ends_there(
    simulation_params: Params, schema: FeatureSchema, tmp_path: Path
) -> None:
    out = tmp_path / "production"

    summary = _simulate(simulation_params, out, "silent", days=4, rows=50)

    assert [result.delivered for result in summary.days] == [50, 50, 0, 0]
    assert sorted(out.glob(LOG_FILE_GLOB)) == [log_file(out, day) for day in _days(2)], "no file, not even empty"
    assert sorted((out / "labels").iterdir()) == [labels_file(out, day) for day in _days(2)]
    assert summary.files == [path for day in _days(2) for path in (log_file(out, day), labels_file(out, day))]
    window = read_window(str(out), schema, simulation_params.drift, _days(4)[-1])
    assert window.last_day == _days(2)[-1], "the newest line is two days old"


def test_corrupt_lines_are_torn_copies_that_the_log_reader_skips_and_counts(
    simulation_params: Params, schema: FeatureSchema, tmp_path: Path
) -> None:
    out = tmp_path / "production"

    summary = _simulate(simulation_params, out, "torn", days=2, rows=100)

    torn_total = 0
    for day, result in zip(_days(2), summary.days, strict=True):
        raw = log_file(out, day).read_bytes().splitlines()
        torn = [index for index, line in enumerate(raw) if not line.endswith(b"}")]
        assert len(torn) == result.corrupt_lines == 10, "a tenth of 100 rows"
        assert len(raw) == 110, "every row is logged whole as well"
        assert result.delivered == 100
        for index in torn:
            with pytest.raises(json.JSONDecodeError):
                json.loads(raw[index])
            assert raw[index + 1].startswith(raw[index]), "a torn line is the first half of the next one"
        torn_total += len(torn)
    assert "corrupt lines" in summary.lines()[1]
    window = read_window(str(out), schema, simulation_params.drift, _days(2)[-1])
    assert (len(window.rows), window.skipped_lines) == (200, torn_total)


def test_flipped_outcomes_contradict_the_model_for_their_share_and_keep_the_real_ones_elsewhere(
    simulation_params: Params, schema: FeatureSchema, valid_table: pd.DataFrame, tmp_path: Path
) -> None:
    # given: the first day's traffic rebuilt from the same seed, so which rows flip is known
    out = tmp_path / "production"
    traffic = day_traffic(
        valid_table, schema, _settings(simulation_params, "decay", 1, 200), 0, START, np.random.default_rng(SEED)
    )

    # when
    _simulate(simulation_params, out, "decay", days=1, rows=200)

    # then
    predicted = np.array([line["churn"] for line in _lines(log_file(out, START))])
    outcomes = np.array([label["churn"] for label in _lines(labels_file(out, START))])
    assert traffic.flipped.sum() == 60, "30% of 200 rows"
    assert (outcomes[traffic.flipped] != predicted[traffic.flipped]).all(), "a flipped outcome contradicts the model"
    assert (outcomes[~traffic.flipped] == traffic.outcomes[~traffic.flipped]).all(), "the others are the real ones"
    assert customer_records(traffic.features, schema) == [line["features"] for line in _lines(log_file(out, START))]


def test_labels_files_hold_each_logged_prediction_id_with_the_customers_real_label(
    simulation_params: Params, schema: FeatureSchema, valid_table: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "production"
    churned_by_customer = {
        _as_key(customer): label == schema.target.positive
        for customer, label in zip(customer_records(valid_table, schema), valid_table[schema.target.name], strict=True)
    }

    _simulate(simulation_params, out, "none", days=2, rows=150)

    for day in _days(2):
        logged = _lines(log_file(out, day))
        labels = _lines(labels_file(out, day))
        assert labels_file(out, day) == out / "labels" / f"labels-{day:%Y-%m-%d}.jsonl"
        assert [label["prediction_id"] for label in labels] == [line["prediction_id"] for line in logged]
        assert [label["churn"] for label in labels] == [
            churned_by_customer[_as_key(line["features"])] for line in logged
        ]
        assert {True, False} <= {label["churn"] for label in labels}, "both outcomes occur"
    read = read_labels(out.as_posix())
    assert (len(read.by_prediction), read.unreadable_lines) == (2 * 150, 0), "in the format the drift check reads"


def _refuse_constant(constant: str) -> NoReturn:
    """NaN and Infinity are not JSON: the service refuses them (json_invalid), so the stub does too."""
    raise ValueError(constant)


class _StubService(JsonHandler):
    """/predict_batch as the service answers it: a 400 naming each customer with a label `column` does not have."""

    column: ClassVar[str] = ""
    categories: ClassVar[list[str]] = []
    id_column: ClassVar[str] = ""
    batch_sizes: ClassVar[list[int]] = []
    client_ids: ClassVar[list[object]] = []
    delay_seconds: ClassVar[float] = 0.0

    def do_POST(self) -> None:
        time.sleep(self.delay_seconds)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            customers = json.loads(body, parse_constant=_refuse_constant)["customers"]
        except ValueError:
            self.answer(HTTPStatus.BAD_REQUEST, {"error": "invalid", "detail": [{"type": "json_invalid", "loc": []}]})
            return
        type(self).batch_sizes.append(len(customers))
        type(self).client_ids += [customer.get(self.id_column) for customer in customers]
        details = [
            {"type": "literal_error", "loc": ["customers", position, self.column], "msg": "bad", "input": "x"}
            for position, customer in enumerate(customers)
            if customer[self.column] not in self.categories
        ]
        if details:
            self.answer(HTTPStatus.BAD_REQUEST, {"error": "invalid", "detail": details})
        else:
            self.answer(HTTPStatus.OK, {"predictions": [{}] * len(customers)})


@pytest.fixture
def stub_service(schema: FeatureSchema) -> Iterator[str]:
    _StubService.column = _category(schema)
    _StubService.categories = schema.categorical_features[_StubService.column].categories
    _StubService.id_column = schema.id_column
    _StubService.batch_sizes = []
    _StubService.client_ids = []
    _StubService.delay_seconds = 0.0
    with serving(_StubService) as url:
        yield f"{url}/"


def test_url_mode_sends_batches_of_at_most_max_batch_size_and_counts_the_refused_rows(
    simulation_params: Params, schema: FeatureSchema, valid_table: pd.DataFrame, stub_service: str, tmp_path: Path
) -> None:
    params = simulation_params.model_copy(
        update={"serve": simulation_params.serve.model_copy(update={"max_batch_size": 100})}
    )
    settings = _settings(simulation_params, "unknown", days=2, rows=240)

    summary = simulator.simulate(params, settings, START, tmp_path / "unused", stub_service)

    assert [(result.delivered, result.refused) for result in summary.days] == [(180, 60), (180, 60)], (
        "the quarter with an unknown label is refused, the rest answered"
    )
    assert max(_StubService.batch_sizes) <= 100
    assert set(_StubService.client_ids) <= set(valid_table[schema.id_column].astype(str)), (
        "each customer is sent with its id in the traffic pool as its client id"
    )
    assert summary.files == [], "the service, not the simulator, logs"
    assert not (tmp_path / "unused").exists(), "the service, not the simulator, logs"
    assert "total: 360 rows answered, 120 refused" in summary.lines()


def test_url_mode_waits_for_each_answer_as_long_as_simulate_request_timeout_seconds(
    simulation_params: Params, stub_service: str, tmp_path: Path
) -> None:
    # given: a service that takes half a second to answer
    _StubService.delay_seconds = 0.5
    settings = _settings(simulation_params, days=1, rows=5).model_copy(update={"request_timeout_seconds": 0.1})

    # when / then: a tenth of a second is too short a wait, five seconds are enough
    with pytest.raises(SourceError, match="timed out"):
        simulator.simulate(simulation_params, settings, START, tmp_path / "unused", stub_service)
    patient = settings.model_copy(update={"request_timeout_seconds": 5.0})
    summary = simulator.simulate(simulation_params, patient, START, tmp_path / "unused", stub_service)
    assert [result.delivered for result in summary.days] == [5]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _params_file(params: Params, directory: Path) -> Path:
    path = directory / "params.yaml"
    path.write_text(yaml.safe_dump(params.model_dump(mode="json")))
    return path


def test_url_mode_against_a_dead_port_exits_4_with_one_line_naming_the_url(
    simulation_params: Params, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{_free_port()}"

    code = main(["--params", str(_params_file(simulation_params, tmp_path)), "simulate", "--url", url, "--days", "1"])

    assert code == 4
    err = capsys.readouterr().err
    assert err.startswith(f"mlloop simulate: error: {url}/predict_batch: cannot connect"), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err, err


def test_the_command_line_ends_on_today_by_default_and_prints_the_summary(
    simulation_params: Params, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "simulated"
    arguments = ["simulate", "--scenario", "relabel", "--days", "2", "--rows-per-day", "5", "--out", str(out)]

    code = main(["--params", str(_params_file(simulation_params, tmp_path)), *arguments])

    assert code == 0
    today = datetime.now(UTC).date()
    assert sorted(out.glob(LOG_FILE_GLOB)) == [log_file(out, today - timedelta(days=1)), log_file(out, today)]
    printed = capsys.readouterr().out
    assert "scenario relabel: 2 days" in printed, printed
    assert "total: 10 rows logged, 0 refused" in printed, printed


@pytest.mark.parametrize(
    ("arguments", "pool", "offset"),
    [([], "traffic", 0), (["--pool", "evaluation"], "evaluation", EVALUATION_ID_OFFSET)],
    ids=["traffic by default", "evaluation when asked for"],
)
def test_the_customers_come_from_the_traffic_pool_unless_the_evaluation_pool_is_asked_for(
    simulation_params: Params,
    schema: FeatureSchema,
    valid_table: pd.DataFrame,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    pool: str,
    offset: int,
) -> None:
    out = tmp_path / "simulated"
    command = ["simulate", "--days", "1", "--rows-per-day", "200", "--out", str(out), *arguments]

    code = main(["--params", str(_params_file(simulation_params, tmp_path)), *command])

    assert code == 0
    pool_ids = set((valid_table[schema.id_column] + offset).astype(str))
    logged = {line["client_id"] for line in _lines(log_file(out, datetime.now(UTC).date()))}
    assert logged <= pool_ids, f"a client id outside the {pool} pool: {sorted(logged - pool_ids)[:3]}"
    assert f"customers of the {pool} pool" in capsys.readouterr().out


def test_a_scenario_params_does_not_declare_exits_2_naming_those_it_does(
    simulation_params: Params, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["simulate", "--scenario", "price_hike", "--days", "1", "--out", str(tmp_path / "simulated")]

    code = main(["--params", str(_params_file(simulation_params, tmp_path)), *arguments])

    assert code == 2
    err = capsys.readouterr().err
    declared = "(decay, none, relabel, silent, torn, unknown)"
    assert f"simulate.scenario: 'price_hike' is not declared in simulate.scenarios {declared}" in err, err
    assert not (tmp_path / "simulated").exists(), "nothing is written"


def test_a_scenario_about_a_feature_the_schema_lacks_is_a_config_error_before_any_traffic(
    simulation_params: Params, schema: FeatureSchema, tmp_path: Path
) -> None:
    category = _category(schema)
    without_it = schema.model_dump(mode="json")
    del without_it["features"][category]
    schema_file = tmp_path / "schema.yaml"
    schema_file.write_text(yaml.safe_dump(without_it))
    params = simulation_params.model_copy(
        update={"data": simulation_params.data.model_copy(update={"schema_file": schema_file})}
    )

    with pytest.raises(ConfigError) as raised:
        simulator.simulate(params, _settings(params), START, tmp_path / "production")

    assert f"simulate.scenarios.relabel.shifts[0] (move_labels): column '{category}' is not a feature of " in str(
        raised.value
    )
    assert not (tmp_path / "production").exists(), "not even the scenario that was run, none, wrote anything"


# --- a champion and a challenger --------------------------------------------------------


def _challenger_file(
    simulation_params: Params, schema: FeatureSchema, valid_table: pd.DataFrame, tmp_path: Path, threshold: float
) -> Path:
    """A model other than the champion (fitted to the opposite outcomes), its metadata beside it."""
    features, label = features_and_label(valid_table, schema)
    pipeline = build_pipeline(schema, "logistic_regression", {}, seed=0).fit(features, 1 - label)
    model_file = tmp_path / "challenger" / simulation_params.paths.model.name
    model_file.parent.mkdir()
    joblib.dump(pipeline, model_file)
    write_json(model_file.with_name(simulation_params.paths.model_metadata.name), {"threshold": threshold})
    return model_file


def _ab(params: Params, mode: str) -> Params:
    return params.model_copy(update={"ab": params.ab.model_copy(update={"mode": mode, "challenger_share": 0.3})})


def test_in_shadow_mode_the_champion_answers_every_row_and_the_challengers_answer_is_logged_beside_it(
    simulation_params: Params, schema: FeatureSchema, valid_table: pd.DataFrame, tmp_path: Path
) -> None:
    challenger = _challenger_file(simulation_params, schema, valid_table, tmp_path, threshold=0.3)
    out = tmp_path / "production"

    simulator.simulate(
        _ab(simulation_params, "shadow"), _settings(simulation_params, days=1), START, out, None, challenger
    )

    lines = _lines(log_file(out, START))
    features = pd.DataFrame([line["features"] for line in lines])
    champion = joblib.load(simulation_params.paths.model).predict_proba(features)[:, 1]
    shadow = joblib.load(challenger).predict_proba(features)[:, 1]
    assert {line["variant"] for line in lines} == {"champion"}
    assert [line["churn_probability"] for line in lines] == pytest.approx(champion.tolist(), abs=1e-12)
    assert [line["churn"] for line in lines] == (champion >= THRESHOLD).tolist(), "the champion's decision"
    assert [line["challenger_probability"] for line in lines] == pytest.approx(shadow.tolist(), abs=1e-12)
    assert {line["challenger_version"] for line in lines} == {"simulated:" + sha256_of(challenger)[:12]}
    assert {line["model_version"] for line in lines} == {"simulated:" + sha256_of(simulation_params.paths.model)[:12]}
    labels = _lines(labels_file(out, START))
    assert [label["prediction_id"] for label in labels] == [line["prediction_id"] for line in lines]


def test_in_split_mode_a_share_of_the_rows_is_answered_by_the_challenger_at_its_own_threshold(
    simulation_params: Params, schema: FeatureSchema, valid_table: pd.DataFrame, tmp_path: Path
) -> None:
    challenger = _challenger_file(simulation_params, schema, valid_table, tmp_path, threshold=0.3)
    out = tmp_path / "production"

    simulator.simulate(
        _ab(simulation_params, "split"), _settings(simulation_params, days=2, rows=500), START, out, None, challenger
    )

    lines = [line for day in _days(2) for line in _lines(log_file(out, day))]
    answered = [line for line in lines if line["variant"] == "challenger"]
    # 1,000 rows at a share of 0.3: 300 expected, binomial standard deviation 14.5
    assert 300 - 4 * 14.5 < len(answered) < 300 + 4 * 14.5, len(answered)
    assert {line["model_version"] for line in answered} == {"simulated:" + sha256_of(challenger)[:12]}
    assert all(line["churn"] == (line["churn_probability"] >= 0.3) for line in answered), "its threshold, not 0.5"
    assert all(line["challenger_probability"] is None for line in lines), "nothing is logged beside an answer"
    chosen = simulator.challenger_rows([line["prediction_id"] for line in lines], 0.3)
    assert chosen.tolist() == [line["variant"] == "challenger" for line in lines], "assigned by the prediction_id"


def test_a_challenger_with_mode_off_or_through_a_service_is_a_config_error(
    simulation_params: Params, schema: FeatureSchema, valid_table: pd.DataFrame, tmp_path: Path
) -> None:
    challenger = _challenger_file(simulation_params, schema, valid_table, tmp_path, threshold=0.5)
    settings = _settings(simulation_params, days=1)

    with pytest.raises(ConfigError, match=r'ab\.mode: "off" serves the champion alone'):
        simulator.simulate(_ab(simulation_params, "off"), settings, START, tmp_path / "off", None, challenger)
    with pytest.raises(ConfigError, match="--challenger: a running service serves its own challenger"):
        simulator.simulate(
            _ab(simulation_params, "shadow"), settings, START, tmp_path / "x", "http://127.0.0.1:1", challenger
        )
    assert not (tmp_path / "off").exists()


def test_the_command_line_takes_a_challenger_model_file(
    simulation_params: Params, schema: FeatureSchema, valid_table: pd.DataFrame, tmp_path: Path
) -> None:
    challenger = _challenger_file(simulation_params, schema, valid_table, tmp_path, threshold=0.5)
    out = tmp_path / "simulated"
    arguments = ["simulate", "--days", "1", "--rows-per-day", "20", "--out", str(out), "--challenger", str(challenger)]

    code = main(["--params", str(_params_file(_ab(simulation_params, "shadow"), tmp_path)), *arguments])

    assert code == 0
    assert all(line["challenger_probability"] is not None for line in _lines(next(out.glob(LOG_FILE_GLOB))))


# --- the versions the log names -------------------------------------------------------------


@pytest.fixture
def registry_clone(simulation_params: Params, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Params:
    """simulation_params in a git repository, entered, with no version registered yet; the model's path is
    relative to it, as dvc.lock records an output."""
    for name, value in IDENTITY.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    git(tmp_path, "init", "--quiet", "--initial-branch=main")
    paths = simulation_params.paths
    return simulation_params.model_copy(
        update={"paths": paths.model_copy(update={"model": paths.model.relative_to(tmp_path)})}
    )


def _commit_model(params: Params, model_file: Path, version: str | None) -> None:
    """Commit a dvc.lock that records `model_file` as params paths.model, as DVC 3 does (the file's plain MD5),
    and register that commit as `churn@<version>` (GTO's annotated tag) unless version is None."""
    output = {
        "path": params.paths.model.as_posix(),
        "hash": "md5",
        "md5": hashlib.md5(model_file.read_bytes(), usedforsecurity=False).hexdigest(),
        "size": model_file.stat().st_size,
    }
    lock = {"schema": "2.0", "stages": {"train": {"cmd": "mlloop train", "outs": [output]}}}
    Path("dvc.lock").write_text(yaml.safe_dump(lock))
    git(Path.cwd(), "add", "dvc.lock")
    git(Path.cwd(), "commit", "--quiet", "--message", f"train {model_file}")
    if version is not None:
        gto.api.register(".", "churn", "HEAD", version=version)


def _shadow_versions(params: Params, challenger: Path, out: Path) -> tuple[set[str], set[str]]:
    """The versions a day of shadow traffic logs: the champion's (model_version) and the challenger's."""
    simulator.simulate(_ab(params, "shadow"), _settings(params, days=1, rows=50), START, out, None, challenger)
    lines = _lines(log_file(out, START))
    return {line["model_version"] for line in lines}, {line["challenger_version"] for line in lines}


def test_a_model_whose_md5_a_version_tags_dvc_lock_records_is_logged_as_that_version(
    registry_clone: Params, schema: FeatureSchema, valid_table: pd.DataFrame, tmp_path: Path
) -> None:
    # Given the champion released as v0.1.0 and the challenger, a model file elsewhere, as v0.2.0
    challenger = _challenger_file(registry_clone, schema, valid_table, tmp_path, threshold=0.5)
    _commit_model(registry_clone, registry_clone.paths.model, "v0.1.0")
    _commit_model(registry_clone, challenger, "v0.2.0")

    champion_versions, challenger_versions = _shadow_versions(registry_clone, challenger, tmp_path / "production")

    assert champion_versions == {"churn@v0.1.0"}
    assert challenger_versions == {"churn@v0.2.0"}, "the name `mlloop promote` moves stage prod to"


def test_a_model_no_version_holds_is_logged_as_simulated_and_the_start_of_its_sha256(
    registry_clone: Params, schema: FeatureSchema, valid_table: pd.DataFrame, tmp_path: Path
) -> None:
    # Given the champion released as v0.1.0, and the challenger committed but never registered
    challenger = _challenger_file(registry_clone, schema, valid_table, tmp_path, threshold=0.5)
    _commit_model(registry_clone, registry_clone.paths.model, "v0.1.0")
    _commit_model(registry_clone, challenger, None)

    champion_versions, challenger_versions = _shadow_versions(registry_clone, challenger, tmp_path / "production")

    assert champion_versions == {"churn@v0.1.0"}
    assert challenger_versions == {"simulated:" + sha256_of(challenger)[:12]}


def test_in_a_clone_without_the_registrys_tags_every_model_is_logged_as_simulated(
    registry_clone: Params, schema: FeatureSchema, valid_table: pd.DataFrame, tmp_path: Path
) -> None:
    challenger = _challenger_file(registry_clone, schema, valid_table, tmp_path, threshold=0.5)
    _commit_model(registry_clone, registry_clone.paths.model, None)

    champion_versions, challenger_versions = _shadow_versions(registry_clone, challenger, tmp_path / "production")

    assert champion_versions == {"simulated:" + sha256_of(registry_clone.paths.model)[:12]}
    assert challenger_versions == {"simulated:" + sha256_of(challenger)[:12]}
