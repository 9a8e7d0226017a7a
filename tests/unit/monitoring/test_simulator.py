"""Simulated production traffic: held-out customers, day by day, in the service's log format, under
scenarios whose ground truth is known, with the customers' real labels alongside."""

import json
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any, ClassVar, NoReturn

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from tests.stub_http import JsonHandler, serving

from mlloop.cli import main
from mlloop.config import Params, Scenario, SimulateParams
from mlloop.core.model import build_pipeline
from mlloop.core.schema import FeatureSchema, features_and_label
from mlloop.errors import ConfigError, SourceError
from mlloop.monitoring import simulator
from mlloop.monitoring.outcomes import labels_file, read_labels
from mlloop.monitoring.simulator import DayTraffic, SimulationSummary, customer_records, day_traffic
from mlloop.serving.inference_log import LOG_FILE_GLOB, log_file
from mlloop.storage.files import sha256_of, write_json

START = date(2026, 3, 1)
SEED = 11
THRESHOLD = 0.5
TIMEOUT_SECONDS = 30.0
"""How long the simulator waits for the stub service, unless a test is about the wait."""
LOG_KEYS = {
    "timestamp", "request_id", "prediction_id", "client_id", "model_version", "features", "churn_probability", "churn"
}  # fmt: skip
"""The keys of every line the service's InferenceLog writes."""


@pytest.fixture
def simulation_params(params: Params, schema: FeatureSchema, valid_table: pd.DataFrame) -> Params:
    """params whose test split, model and model metadata exist under tmp_path: a small fitted pipeline."""
    params.paths.test.parent.mkdir(parents=True)
    valid_table.to_parquet(params.paths.test, index=False)
    features, label = features_and_label(valid_table, schema)
    pipeline = build_pipeline(schema, "logistic_regression", {}, seed=0).fit(features, label)
    params.paths.model.parent.mkdir(parents=True)
    joblib.dump(pipeline, params.paths.model)
    write_json(params.paths.model_metadata, {"threshold": THRESHOLD})
    return params


def _simulate(
    params: Params, out: Path, scenario: Scenario = "none", days: int = 3, rows: int = 200, seed: int = SEED
) -> SimulationSummary:
    settings = SimulateParams(
        scenario=scenario, days=days, rows_per_day=rows, seed=seed, request_timeout_seconds=TIMEOUT_SECONDS
    )
    return simulator.simulate(params, settings, START, out)


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
    first = _simulate(simulation_params, tmp_path / "first", "contract_shift")
    second = _simulate(simulation_params, tmp_path / "second", "contract_shift")
    other_seed = _simulate(simulation_params, tmp_path / "other", "contract_shift", seed=SEED + 1)

    assert len(first.files) == 6, "a log file and a labels file per day"
    for path, again, other in zip(first.files, second.files, other_seed.files, strict=True):
        assert path.read_bytes() == again.read_bytes(), f"{path.name} differs between two runs with one seed"
        assert path.read_bytes() != other.read_bytes(), f"{path.name} does not depend on the seed"


def test_each_day_file_holds_rows_per_day_lines_in_the_service_format_stamped_within_that_utc_day(
    simulation_params: Params, schema: FeatureSchema, tmp_path: Path
) -> None:
    out = tmp_path / "production"

    summary = _simulate(simulation_params, out, days=3, rows=120)

    assert sorted(out.glob(LOG_FILE_GLOB)) == [log_file(out, day) for day in _days(3)]
    assert [(result.day, result.delivered, result.refused) for result in summary.days] == [
        (day, 120, 0) for day in _days(3)
    ]
    expected_version = "simulated:" + sha256_of(simulation_params.paths.model)[:12]
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
            assert line["client_id"] is None
        request_ids.update(line["request_id"] for line in lines)
    assert len(request_ids) == 3 * 120, "every simulated request has its own id"


def test_logged_lines_read_back_identically_with_a_plain_json_parse(
    simulation_params: Params, schema: FeatureSchema, valid_table: pd.DataFrame, tmp_path: Path
) -> None:
    # given: the first day's traffic, rebuilt from the same seed
    out = tmp_path / "production"
    _simulate(simulation_params, out, days=1, rows=150)
    settings = SimulateParams(
        scenario="none", days=1, rows_per_day=150, seed=SEED, request_timeout_seconds=TIMEOUT_SECONDS
    )
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
    with_null = valid_table[valid_table["total_charges"].isna()]
    assert len(with_null) == 1, "valid_table has one missing total_charges"

    (customer,) = customer_records(with_null, schema)

    assert list(customer) == schema.feature_names
    assert customer["total_charges"] is None, "a missing number is JSON null, never NaN"
    assert all(type(customer[name]) is int for name, f in schema.numeric_features.items() if f.type == "integer")
    assert type(customer["monthly_charges"]) is float
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


def test_price_increase_raises_both_charges_by_15_percent_within_the_schema_range_and_nothing_else(
    simulation_params: Params, schema: FeatureSchema, tmp_path: Path
) -> None:
    # given: the same seed, so the same customers, with and without the scenario
    _simulate(simulation_params, tmp_path / "none", "none", days=2)
    _simulate(simulation_params, tmp_path / "price", "price_increase", days=2)

    for day in _days(2):
        before = _logged_features(tmp_path / "none", day)
        after = _logged_features(tmp_path / "price", day)
        for name in ("monthly_charges", "total_charges"):
            ceiling = schema.numeric_features[name].max
            expected = (before[name] * 1.15).round(2).clip(upper=ceiling)
            assert np.allclose(after[name], expected, atol=0.011, equal_nan=True), name
            assert after[name].max() <= ceiling
            assert (after[name] == ceiling).any(), f"the test table has {name} that 15% more would exceed"
        unchanged = [name for name in schema.feature_names if name not in ("monthly_charges", "total_charges")]
        pd.testing.assert_frame_equal(after[unchanged], before[unchanged])


def test_contract_shift_moves_35_percent_of_long_contracts_to_month_to_month(
    schema: FeatureSchema, valid_table: pd.DataFrame
) -> None:
    customers = valid_table[schema.feature_names]
    long_contracts = customers["contract"].isin(["One year", "Two year"])

    shifted = simulator.contract_shift(customers, 0, 7, np.random.default_rng(SEED))

    moved = long_contracts & (shifted["contract"] == "Month-to-month")
    assert moved.sum() == round(0.35 * long_contracts.sum())
    month_to_month = customers["contract"] == "Month-to-month"
    assert (shifted.loc[month_to_month, "contract"] == "Month-to-month").all(), "nobody leaves month-to-month"
    assert (shifted["contract"] == "Month-to-month").mean() > month_to_month.mean()
    others = [name for name in schema.feature_names if name != "contract"]
    pd.testing.assert_frame_equal(shifted[others], customers[others])
    assert (customers["contract"][long_contracts] != "Month-to-month").all(), "the input frame is left as it was"


def test_new_payment_method_logs_digital_wallet_for_a_quarter_of_the_rows_each_day(
    simulation_params: Params, schema: FeatureSchema, tmp_path: Path
) -> None:
    out = tmp_path / "production"

    _simulate(simulation_params, out, "new_payment_method", days=2, rows=200)

    assert "Digital wallet" not in schema.categorical_features["payment_method"].categories
    for day in _days(2):
        lines = _lines(log_file(out, day))
        wallet = [line for line in lines if line["features"]["payment_method"] == "Digital wallet"]
        assert len(wallet) == 50, "exactly a quarter of 200 rows"
        assert all(0 <= line["churn_probability"] <= 1 for line in wallet), "the model still answers"


def test_gradual_drift_raises_charges_every_day_to_plus_25_percent_on_the_last(
    schema: FeatureSchema, valid_table: pd.DataFrame
) -> None:
    customers = valid_table[schema.feature_names]
    rng = np.random.default_rng(SEED)

    means = [simulator.gradual_price_drift(customers, day, 5, rng)["monthly_charges"].mean() for day in range(5)]

    original = customers["monthly_charges"].mean()
    assert all(earlier < later for earlier, later in zip([original, *means], means, strict=False)), means
    assert means[-1] == pytest.approx(1.25 * original, rel=1e-3)
    assert means[0] == pytest.approx(1.05 * original, rel=1e-3), "the first day is already a fifth of the way"


def test_price_scenarios_clip_charges_to_the_schema_maximum(schema: FeatureSchema, valid_table: pd.DataFrame) -> None:
    ceiling = schema.numeric_features["monthly_charges"].max
    assert ceiling is not None
    near_ceiling = valid_table.assign(monthly_charges=0.95 * ceiling)
    settings = SimulateParams(
        scenario="price_increase", days=1, rows_per_day=50, seed=SEED, request_timeout_seconds=TIMEOUT_SECONDS
    )

    traffic: DayTraffic = day_traffic(near_ceiling, schema, settings, 0, START, np.random.default_rng(SEED))

    assert (traffic.features["monthly_charges"] == ceiling).all()


def test_labels_files_hold_each_logged_prediction_id_with_the_customers_real_label(
    simulation_params: Params, schema: FeatureSchema, valid_table: pd.DataFrame, tmp_path: Path
) -> None:
    out = tmp_path / "production"
    churned_by_customer = {
        _as_key(customer): label == "Yes"
        for customer, label in zip(customer_records(valid_table, schema), valid_table["churn"], strict=True)
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
    """/predict_batch as the service answers it: a 400 naming each customer with an unknown payment method."""

    categories: ClassVar[list[str]] = []
    batch_sizes: ClassVar[list[int]] = []
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
        details = [
            {"type": "literal_error", "loc": ["customers", position, "payment_method"], "msg": "bad", "input": "x"}
            for position, customer in enumerate(customers)
            if customer["payment_method"] not in self.categories
        ]
        if details:
            self.answer(HTTPStatus.BAD_REQUEST, {"error": "invalid", "detail": details})
        else:
            self.answer(HTTPStatus.OK, {"predictions": [{}] * len(customers)})


@pytest.fixture
def stub_service(schema: FeatureSchema) -> Iterator[str]:
    _StubService.categories = schema.categorical_features["payment_method"].categories
    _StubService.batch_sizes = []
    _StubService.delay_seconds = 0.0
    with serving(_StubService) as url:
        yield f"{url}/"


def test_url_mode_sends_batches_of_at_most_max_batch_size_and_counts_the_refused_rows(
    simulation_params: Params, stub_service: str, tmp_path: Path
) -> None:
    params = simulation_params.model_copy(
        update={"serve": simulation_params.serve.model_copy(update={"max_batch_size": 100})}
    )
    settings = SimulateParams(
        scenario="new_payment_method", days=2, rows_per_day=240, seed=SEED, request_timeout_seconds=TIMEOUT_SECONDS
    )

    summary = simulator.simulate(params, settings, START, tmp_path / "unused", stub_service)

    assert [(result.delivered, result.refused) for result in summary.days] == [(180, 60), (180, 60)], (
        "the quarter paying by digital wallet is refused, the rest answered"
    )
    assert max(_StubService.batch_sizes) <= 100
    assert summary.files == [], "the service, not the simulator, logs"
    assert not (tmp_path / "unused").exists(), "the service, not the simulator, logs"
    assert "total: 360 rows answered, 120 refused" in summary.lines()


def test_url_mode_waits_for_each_answer_as_long_as_simulate_request_timeout_seconds(
    simulation_params: Params, stub_service: str, tmp_path: Path
) -> None:
    # given: a service that takes half a second to answer
    _StubService.delay_seconds = 0.5
    settings = SimulateParams(scenario="none", days=1, rows_per_day=5, seed=SEED, request_timeout_seconds=0.1)

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
    arguments = ["simulate", "--scenario", "gradual", "--days", "2", "--rows-per-day", "5", "--out", str(out)]

    code = main(["--params", str(_params_file(simulation_params, tmp_path)), *arguments])

    assert code == 0
    today = datetime.now(UTC).date()
    assert sorted(out.glob(LOG_FILE_GLOB)) == [log_file(out, today - timedelta(days=1)), log_file(out, today)]
    printed = capsys.readouterr().out
    assert "scenario gradual: 2 days" in printed, printed
    assert "total: 10 rows logged, 0 refused" in printed, printed


def test_a_scenario_about_a_feature_the_schema_lacks_is_a_config_error(
    simulation_params: Params, schema: FeatureSchema, tmp_path: Path
) -> None:
    without_contract = schema.model_dump(mode="json")
    del without_contract["features"]["contract"]
    schema_file = tmp_path / "schema.yaml"
    schema_file.write_text(yaml.safe_dump(without_contract))
    params = simulation_params.model_copy(
        update={"data": simulation_params.data.model_copy(update={"schema_file": schema_file})}
    )
    settings = SimulateParams(
        scenario="contract_shift", days=1, rows_per_day=5, seed=SEED, request_timeout_seconds=TIMEOUT_SECONDS
    )

    with pytest.raises(ConfigError, match=r"contract_shift changes \['contract'\]"):
        simulator.simulate(params, settings, START, tmp_path / "production")
