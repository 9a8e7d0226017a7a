"""params.yaml is loaded into typed, frozen objects; every mistake fails at load time, naming the field."""

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlloop.config import Params, load_params
from mlloop.errors import ConfigError

PARAMS_FILE = Path(__file__).parents[2] / "params.yaml"

Mapping = dict[str, Any]


def _real_params_mapping() -> Mapping:
    loaded = yaml.safe_load(PARAMS_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _write_params(directory: Path, change: Callable[[Mapping], None]) -> Path:
    """Write the real params.yaml, changed in place by `change`, into `directory`."""
    document = _real_params_mapping()
    change(document)
    path = directory / "params.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _setting(where: tuple[str, ...], value: object) -> Callable[[Mapping], None]:
    """A change for _write_params: the setting at the path `where` (section, ..., key) becomes `value`."""
    *parents, key = where

    def change(document: Mapping) -> None:
        for parent in parents:
            document = document[parent]
        document[key] = value

    return change


def test_real_params_file_loads_into_typed_objects_holding_every_value() -> None:
    # when
    params = load_params(PARAMS_FILE)

    # then
    assert isinstance(params, Params)
    assert isinstance(params.paths.raw, Path), "paths must be Path objects, not strings"
    assert params.model_dump(mode="json") == _real_params_mapping(), "load must neither drop nor add values"


def test_params_are_frozen() -> None:
    params = load_params(PARAMS_FILE)

    with pytest.raises(ValueError, match="frozen"):
        params.train.threshold = 0.9


def test_unknown_key_is_rejected_with_its_dotted_field_name(tmp_path: Path) -> None:
    # given: a typo in a nested key
    path = _write_params(tmp_path, lambda document: document["train"].update(treshold=0.4))

    # when / then
    with pytest.raises(ConfigError) as raised:
        load_params(path)
    message = str(raised.value)
    assert "train.treshold" in message, message
    assert str(path) in message, "the message must name the file"


@pytest.mark.parametrize(
    ("section", "key", "bad_value", "field"),
    [
        ("split", "seed", "forty-two", "split.seed"),
        ("split", "test_size", "a fifth", "split.test_size"),
        ("train", "estimator", "xgboost", "train.estimator"),
        ("train", "hyperparameters", ["learning_rate"], "train.hyperparameters"),
    ],
)
def test_wrong_type_is_rejected_naming_the_field_and_the_bad_value(
    tmp_path: Path, section: str, key: str, bad_value: object, field: str
) -> None:
    path = _write_params(tmp_path, lambda document: document[section].update({key: bad_value}))

    with pytest.raises(ConfigError) as raised:
        load_params(path)
    message = str(raised.value)
    assert field in message, message
    assert repr(bad_value) in message, f"the bad value {bad_value!r} must be quoted: {message}"


@pytest.mark.parametrize(
    ("where", "bad_value"),
    [
        (("serve", "inference_log_queue_lines"), 0),
        (("serve", "inference_log_queue_lines"), "many"),
        (("serve", "request_timeout_seconds"), 0),
        (("serve", "request_timeout_seconds"), "ten"),
        (("serve", "log_drain_seconds"), 0),
        (("serve", "termination_grace_seconds"), 0),
        (("serve", "termination_grace_seconds"), 30.5),
        (("serve", "model_calls_in_flight"), 0),
        (("serve", "model_threads"), 0),
        (("serve", "gc_thresholds"), [50000, 20, 100]),
        (("serve", "gc_thresholds", "allocations"), 0),
        (("serve", "gc_thresholds", "young_collections"), 2.5),
        (("serve", "gc_thresholds", "middle_collections"), "often"),
        (("simulate", "request_timeout_seconds"), -1),
    ],
)
def test_a_wrong_service_or_client_setting_is_rejected_naming_the_field_and_the_value(
    tmp_path: Path, where: tuple[str, ...], bad_value: object
) -> None:
    path = _write_params(tmp_path, _setting(where, bad_value))

    with pytest.raises(ConfigError) as raised:
        load_params(path)
    message = str(raised.value)
    assert ".".join(where) in message, message
    assert repr(bad_value) in message, message


@pytest.mark.parametrize(
    ("where", "bad_value"),
    [
        (("gate", "max_latency_ratio"), 1.0),  # would fail a model as fast as its baseline
        (("gate", "max_latency_ratio"), 0.5),
        (("report", "serving_cost", "single_row_calls"), 1),  # one pair has no interval
        (("report", "serving_cost", "batch_calls"), 0),
        (("report", "serving_cost", "warmup_calls"), -1),
        (("report", "serving_cost", "confidence"), 1.0),
        (("report", "serving_cost", "resamples"), 10),
    ],
)
def test_a_serving_cost_setting_or_latency_ratio_that_cannot_work_is_rejected_naming_the_field(
    tmp_path: Path, where: tuple[str, ...], bad_value: object
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_params(_write_params(tmp_path, _setting(where, bad_value)))
    message = str(raised.value)
    assert ".".join(where) in message, message
    assert repr(bad_value) in message, message


def test_a_simulator_that_gives_up_before_the_service_is_rejected_naming_both_timeouts(tmp_path: Path) -> None:
    # given: the simulator waits 5 s for a service that may take 10 s
    path = _write_params(tmp_path, lambda document: document["simulate"].update(request_timeout_seconds=5))

    with pytest.raises(ConfigError) as raised:
        load_params(path)
    message = str(raised.value)
    assert "simulate.request_timeout_seconds (5.0) must be at least serve.request_timeout_seconds (10.0)" in message


def test_held_out_pools_that_leave_nothing_to_train_on_are_rejected_naming_both_shares(tmp_path: Path) -> None:
    path = _write_params(tmp_path, lambda document: document["split"].update(test_size=0.6, traffic_size=0.4))

    with pytest.raises(ConfigError) as raised:
        load_params(path)
    message = str(raised.value)
    assert "split" in message, message
    assert "test_size (0.6) + traffic_size (0.4) must be below 1" in message, message


def test_a_simulation_pool_other_than_traffic_or_evaluation_is_rejected_naming_the_field(tmp_path: Path) -> None:
    path = _write_params(tmp_path, lambda document: document["simulate"].update(pool="train"))

    with pytest.raises(ConfigError) as raised:
        load_params(path)
    message = str(raised.value)
    assert "simulate.pool" in message, message
    assert "'train'" in message, message


def test_a_shutdown_that_outlasts_the_pods_grace_period_is_rejected_naming_every_term(tmp_path: Path) -> None:
    # given: 10 s to answer the requests in flight and 20 s to drain the log, in a 30 s grace period
    path = _write_params(tmp_path, lambda document: document["serve"].update(log_drain_seconds=20))

    with pytest.raises(ConfigError) as raised:
        load_params(path)
    message = str(raised.value)
    assert "request_timeout_seconds + log_drain_seconds (30) must be less than termination_grace_seconds (30)" in (
        message
    )
    assert "serve: " in message, message


@pytest.mark.parametrize(
    ("bad_value", "said"),
    [("sometimes", "'off', 'shadow' or 'split'"), (False, 'a bare off is false in YAML: write mode: "off"')],
    ids=["unknown mode", "unquoted off"],
)
def test_a_champion_challenger_mode_that_is_not_one_is_rejected_naming_the_field_and_the_modes(
    tmp_path: Path, bad_value: object, said: str
) -> None:
    path = _write_params(tmp_path, _setting(("ab", "mode"), bad_value))

    with pytest.raises(ConfigError) as raised:
        load_params(path)
    message = str(raised.value)
    assert "ab.mode: " in message, message
    assert said in message, message
    assert repr(bad_value) in message, message


@pytest.mark.parametrize("share", [0, 1])
def test_a_challenger_share_that_leaves_either_model_no_traffic_is_rejected(tmp_path: Path, share: float) -> None:
    with pytest.raises(ConfigError, match=rf"ab\.challenger_share: .*\(got {share}\)"):
        load_params(_write_params(tmp_path, _setting(("ab", "challenger_share"), share)))


@pytest.mark.parametrize(
    ("key", "bad_value", "said"),
    [
        ("min_improvement", -0.01, "greater than or equal to 0"),
        ("confidence", 0.4, "greater than or equal to 0.5"),
        ("confidence", 1, "less than 1"),
        ("evidence_days", 0, "greater than or equal to 1"),
        ("min_labelled_rows", 0, "greater than or equal to 1"),
        ("resamples", 10, "greater than or equal to 100"),
        ("metric", "", "at least 1 character"),
    ],
)
def test_an_ab_decision_setting_out_of_its_range_is_rejected_naming_it(
    tmp_path: Path, key: str, bad_value: object, said: str
) -> None:
    path = _write_params(tmp_path, _setting(("ab", "decision", key), bad_value))

    with pytest.raises(ConfigError) as raised:
        load_params(path)
    message = str(raised.value)
    assert f"ab.decision.{key}: " in message, message
    assert said in message, message


def test_an_unknown_ab_decision_setting_is_rejected(tmp_path: Path) -> None:
    path = _write_params(tmp_path, _setting(("ab", "decision", "min_improvment"), 0.01))

    with pytest.raises(ConfigError, match=r"ab\.decision\.min_improvment: Extra inputs are not permitted"):
        load_params(path)


@pytest.mark.parametrize(
    ("where", "bad_value"),
    [
        (("drift", "max_silence_hours"), 0),
        (("drift", "contract", "null_tolerance"), -0.01),
        (("drift", "contract", "max_unknown_label_share"), 1.5),
        (("drift", "contract", "examples"), 0),
        (("drift", "min_labelled_rows"), 0),
        (("drift", "outcomes", "confidence"), 1.0),
        (("drift", "outcomes", "resamples"), 10),
        (("drift", "outcomes", "metrics"), []),
    ],
)
def test_a_status_setting_that_cannot_work_is_rejected_naming_the_field(
    tmp_path: Path, where: tuple[str, ...], bad_value: object
) -> None:
    *parents, key = where

    def change(document: Mapping) -> None:
        for parent in parents:
            document = document[parent]
        document[key] = bad_value

    with pytest.raises(ConfigError) as raised:
        load_params(_write_params(tmp_path, change))
    message = str(raised.value)
    assert ".".join(where) in message, message
    assert repr(bad_value) in message, message


def test_an_outcome_metric_the_gate_sets_no_limit_for_is_rejected_naming_it(tmp_path: Path) -> None:
    # given: precision is a metric, but the gate holds it to nothing, so it could never make a check degraded
    path = _write_params(
        tmp_path, lambda document: document["drift"]["outcomes"].update(metrics=["roc_auc", "precision"])
    )

    with pytest.raises(ConfigError) as raised:
        load_params(path)
    message = str(raised.value)
    assert (
        "drift.outcomes.metrics: ['precision'] have no limit in gate.worst_acceptable or gate.max_regression" in message
    )


@pytest.mark.parametrize(
    ("shift", "where", "rule"),
    [
        (
            {"kind": "shuffle", "column": "x"},
            "simulate.scenarios.broken.shifts.0",
            "does not match any of the expected tags",
        ),
        (
            {"kind": "nulls", "column": "x", "share": 1.5},
            "simulate.scenarios.broken.shifts.0.nulls.share",
            "less than or equal to 1",
        ),
        (
            {"kind": "scale", "column": "x", "factor": 2},
            "simulate.scenarios.broken.shifts.0.scale.ramp",
            "Field required",
        ),
        (
            {"kind": "move_labels", "column": "x", "from_labels": ["a"], "to_label": "a", "share": 0.5},
            "simulate.scenarios.broken.shifts.0.move_labels",
            "to_label 'a' is one of from_labels ['a']",
        ),
    ],
)
def test_a_malformed_shift_is_rejected_at_load_naming_the_scenario_and_the_shift(
    tmp_path: Path, shift: Mapping, where: str, rule: str
) -> None:
    path = _write_params(
        tmp_path,
        lambda document: document["simulate"]["scenarios"].update(broken={"expected": "drift", "shifts": [shift]}),
    )

    with pytest.raises(ConfigError) as raised:
        load_params(path)
    message = str(raised.value)
    assert where in message, message
    assert rule in message, message


def test_a_default_scenario_params_does_not_declare_is_rejected_at_load_naming_those_it_does(tmp_path: Path) -> None:
    declared = next(iter(_real_params_mapping()["simulate"]["scenarios"]))
    path = _write_params(tmp_path, lambda document: document["simulate"].update(scenario="undeclared"))

    with pytest.raises(ConfigError, match=r"simulate: .*scenario 'undeclared' is not one of scenarios \(") as raised:
        load_params(path)
    assert re.search(rf"\(.*\b{re.escape(declared)}\b", str(raised.value)), f"{declared} is not named: {raised.value}"


def test_nested_wrong_type_is_rejected_with_the_full_dotted_path(tmp_path: Path) -> None:
    path = _write_params(tmp_path, lambda document: document["evaluate"]["latency"].update(batch_rows="many"))

    with pytest.raises(ConfigError, match=r"evaluate\.latency\.batch_rows: .*'many'"):
        load_params(path)


@pytest.mark.parametrize("threshold", [0, 1, -0.1, 1.5])
def test_threshold_outside_the_open_unit_interval_is_rejected(tmp_path: Path, threshold: float) -> None:
    path = _write_params(tmp_path, lambda document: document["train"].update(threshold=threshold))

    with pytest.raises(ConfigError) as raised:
        load_params(path)
    message = str(raised.value)
    assert "train.threshold" in message, message
    assert repr(threshold) in message, message


def test_missing_section_is_rejected_by_name(tmp_path: Path) -> None:
    path = _write_params(tmp_path, lambda document: document.pop("split"))

    with pytest.raises(ConfigError, match=r"split: Field required"):
        load_params(path)


def test_missing_file_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"

    with pytest.raises(ConfigError) as raised:
        load_params(path)
    message = str(raised.value)
    assert str(path) in message, message
    assert "not found" in message, message


@pytest.mark.parametrize(
    ("content", "found"),
    [("- paths\n- data\n", "list"), ("just a sentence\n", "str"), ("", "NoneType")],
    ids=["list", "scalar", "empty"],
)
def test_yaml_that_is_not_a_mapping_is_a_config_error_naming_the_file(tmp_path: Path, content: str, found: str) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(content)

    with pytest.raises(ConfigError) as raised:
        load_params(path)
    message = str(raised.value)
    assert str(path) in message, message
    assert "mapping" in message, message
    assert found in message, f"the message should say what was found instead: {message}"


def test_invalid_yaml_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("paths: [unclosed\n")

    with pytest.raises(ConfigError) as raised:
        load_params(path)
    assert str(path) in str(raised.value)
    assert "not valid YAML" in str(raised.value)


def _make_directory(path: Path) -> None:
    path.mkdir()


def _write_latin1(path: Path) -> None:
    path.write_bytes("data:\n  source: donn\xe9es.csv\n".encode("latin-1"))


@pytest.mark.parametrize("make_unreadable", [_make_directory, _write_latin1], ids=["directory", "not utf-8"])
def test_unreadable_params_file_is_a_config_error_naming_the_file(
    tmp_path: Path, make_unreadable: Callable[[Path], None]
) -> None:
    path = tmp_path / "params.yaml"
    make_unreadable(path)

    with pytest.raises(ConfigError) as raised:
        load_params(path)
    assert str(path) in str(raised.value)


def test_the_report_file_is_report_md_in_the_report_directory() -> None:
    assert load_params(PARAMS_FILE).report.report_file == Path("reports/pr/report.md")
