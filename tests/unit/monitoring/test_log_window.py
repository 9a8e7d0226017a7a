"""Reading the inference log's window, and holding every line to the schema.

The window is the `days` days ending on the check's day (`today`), whatever the log holds, read from
day files (named by inference_log.log_file) in any folder under a local directory or any fsspec URL
(in Kubernetes, one folder per pod). The newest line of the whole log is found too, inside the window
or not. The log is production's and not ours to trust: every line is held to the schema and counted
per feature and rule, with its first lines quoted, never silently dropped; a line that is not a JSON
object with a features object and a numeric probability is unreadable, skipped and counted, never
fatal. No log at all gives an empty window. Lines written before the log carried prediction and
client ids are read as they were.
"""

import json
import os
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd
import pytest
import s3fs

from mlloop.config import Params
from mlloop.core.schema import FeatureSchema
from mlloop.errors import SourceError
from mlloop.monitoring.log_contract import LINE
from mlloop.monitoring.log_window import LogWindow, read_window
from mlloop.serving.inference_log import LOG_FILE_NAME, log_file
from mlloop.serving.smoke import example_customer

MODEL_VERSION = "churn:abc123"
TODAY = date(2026, 11, 24)


def _line(
    schema: FeatureSchema,
    request_id: str,
    tenure: int = 0,
    probability: float = 0.25,
    day: date = TODAY,
    client_id: str | None = None,
) -> str:
    """One log line in the service's format, for a customer the schema allows, its request's first row."""
    features = example_customer(schema) | {"tenure": tenure}
    return json.dumps(
        {
            "timestamp": f"{day.isoformat()}T10:00:00+00:00",
            "request_id": request_id,
            "prediction_id": f"{request_id}-0",
            "client_id": client_id,
            "model_version": MODEL_VERSION,
            "features": features,
            "churn_probability": probability,
            "churn": probability >= 0.5,
            "variant": "champion",
            "challenger_version": None,
            "challenger_probability": None,
        }
    )


def _write_day(directory: Path, day: date, lines: list[str]) -> Path:
    path = log_file(directory, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def _foreign(schema: FeatureSchema, request_id: str = "foreign", **changes: Any) -> str:
    """A JSON line of the right kind with some of its fields replaced (None removes a field)."""
    line: dict[str, Any] = json.loads(_line(schema, request_id))
    for key, value in changes.items():
        if value is None:
            del line[key]
        else:
            line[key] = value
    return json.dumps(line)


def _read(
    source: Path | str, schema: FeatureSchema, params: Params, days: int = 7, today: date = TODAY, **contract: int
) -> LogWindow:
    """The window of `days` days ending `today`, under the real params (contract settings overridden)."""
    drift = params.drift.model_copy(
        update={"window_days": days, "contract": params.drift.contract.model_copy(update=contract)}
    )
    return read_window(source if isinstance(source, str) else source.as_posix(), schema, drift, today)


def _count(window: LogWindow, feature: str, rule: str) -> int:
    found = window.contract.rules.get((feature, rule))  # type: ignore[arg-type]
    return found.count if found else 0


# ---------------------------------------------------------------------------------------------
# The window's days
# ---------------------------------------------------------------------------------------------


def test_the_window_is_the_days_ending_today(tmp_path: Path, schema: FeatureSchema, params: Params) -> None:
    for offset, day in enumerate([date(2026, 11, 22), date(2026, 11, 23), date(2026, 11, 24)]):
        _write_day(tmp_path, day, [_line(schema, f"day{offset}-{index}", day=day) for index in range(3)])

    window = _read(tmp_path, schema, params, days=2)

    assert len(window.rows) == 6
    assert not window.rows["request_id"].str.startswith("day0-").any(), "the oldest day is outside the window"
    assert (window.start, window.end) == (date(2026, 11, 23), TODAY)
    assert (window.first_day, window.last_day) == (date(2026, 11, 23), date(2026, 11, 24))
    assert window.files == [log_file(tmp_path, day).as_posix() for day in (date(2026, 11, 23), date(2026, 11, 24))]
    assert window.skipped_lines == 0


def test_each_pods_day_files_are_read_together_as_one_day(
    tmp_path: Path, schema: FeatureSchema, params: Params
) -> None:
    # Given two pods that each shipped their own day files to <log>/<pod name>/
    for pod in ("churn-service-a", "churn-service-b"):
        for day in (date(2026, 11, 22), date(2026, 11, 23), date(2026, 11, 24)):
            _write_day(tmp_path / pod, day, [_line(schema, f"{pod}-{day}", day=day)])

    # When the last two days are read
    window = _read(tmp_path, schema, params, days=2)

    # Then each of those days holds both pods' rows, and the oldest day is outside the window
    assert sorted(window.rows["request_id"]) == [
        f"{pod}-{day}" for pod in ("churn-service-a", "churn-service-b") for day in ("2026-11-23", "2026-11-24")
    ]
    assert (window.first_day, window.last_day) == (date(2026, 11, 23), date(2026, 11, 24))
    assert window.files == [
        log_file(tmp_path / pod, day).as_posix()
        for day in (date(2026, 11, 23), date(2026, 11, 24))
        for pod in ("churn-service-a", "churn-service-b")
    ], "the window lists every file it read, day by day"


def test_old_traffic_is_never_judged_again_when_the_log_goes_silent(
    tmp_path: Path, schema: FeatureSchema, params: Params
) -> None:
    # Given a log whose last line was written two weeks before the check
    _write_day(tmp_path, date(2026, 11, 10), [_line(schema, "old", day=date(2026, 11, 10))])

    # When the week ending today is read
    window = _read(tmp_path, schema, params, days=7, today=TODAY)

    # Then the window is empty, and the newest line is still found, outside it
    assert window.rows.empty
    assert (window.first_day, window.last_day, window.files) == (None, None, [])
    assert window.last_seen == datetime(2026, 11, 10, 10, tzinfo=UTC)


def test_days_with_no_file_are_gaps_in_the_window_not_a_reason_to_reach_further_back(
    tmp_path: Path, schema: FeatureSchema, params: Params
) -> None:
    _write_day(tmp_path, date(2026, 10, 1), [_line(schema, "october", day=date(2026, 10, 1))])
    _write_day(tmp_path, date(2026, 11, 20), [_line(schema, "november", day=date(2026, 11, 20))])

    window = _read(tmp_path, schema, params, days=7)

    assert list(window.rows["request_id"]) == ["november"], "days are counted in dates, not in files"
    assert (window.first_day, window.last_day) == (date(2026, 11, 20), date(2026, 11, 20))


def test_files_of_days_after_today_are_not_read(tmp_path: Path, schema: FeatureSchema, params: Params) -> None:
    _write_day(tmp_path, TODAY, [_line(schema, "today")])
    _write_day(tmp_path, date(2026, 11, 25), [_line(schema, "tomorrow", day=date(2026, 11, 25))])

    window = _read(tmp_path, schema, params)

    assert list(window.rows["request_id"]) == ["today"]
    assert window.last_seen == datetime(2026, 11, 24, 10, tzinfo=UTC), "a wrong clock's file hides no silence"


def test_the_newest_line_is_the_latest_timestamp_of_the_newest_day(
    tmp_path: Path, schema: FeatureSchema, params: Params
) -> None:
    latest = _foreign(schema, "late", timestamp="2026-11-24T23:15:00+00:00")
    _write_day(tmp_path / "pod-a", TODAY, [_line(schema, "morning"), latest])
    _write_day(tmp_path / "pod-b", TODAY, [_foreign(schema, "noon", timestamp="2026-11-24T12:00:00+00:00")])

    window = _read(tmp_path, schema, params)

    assert window.last_seen == datetime(2026, 11, 24, 23, 15, tzinfo=UTC)


def test_a_newest_day_without_a_readable_timestamp_counts_from_its_midnight(
    tmp_path: Path, schema: FeatureSchema, params: Params
) -> None:
    _write_day(tmp_path, TODAY, [_foreign(schema, timestamp="yesterday-ish")])

    window = _read(tmp_path, schema, params)

    assert window.last_seen == datetime(2026, 11, 24, tzinfo=UTC)


def test_each_row_holds_the_features_the_probability_and_where_it_came_from(
    tmp_path: Path, schema: FeatureSchema, params: Params
) -> None:
    _write_day(tmp_path, TODAY, [_line(schema, "req-1", tenure=17, probability=0.8, client_id="C-9")])

    window = _read(tmp_path, schema, params)

    assert list(window.rows.columns) == [
        *schema.feature_names,
        "churn_probability",
        "challenger_probability",
        "timestamp",
        "request_id",
        "prediction_id",
        "client_id",
        "model_version",
        "variant",
        "challenger_version",
    ]
    row = window.rows.iloc[0]
    assert row["tenure"] == 17
    assert row["churn_probability"] == 0.8
    assert row["request_id"] == "req-1"
    assert (row["prediction_id"], row["client_id"]) == ("req-1-0", "C-9")
    assert row["model_version"] == MODEL_VERSION
    assert row["timestamp"] == "2026-11-24T10:00:00+00:00"
    assert row["contract"] == example_customer(schema)["contract"]
    assert row["variant"] == "champion"
    assert pd.isna(row["challenger_probability"])


@pytest.mark.parametrize("corrupt", [False, True], ids=["columnar", "line by line"])
def test_each_row_names_the_variant_that_answered_and_a_shadow_challengers_probability(
    tmp_path: Path, schema: FeatureSchema, params: Params, corrupt: bool
) -> None:
    shadowed = _foreign(schema, "shadowed", challenger_version="churn:new", challenger_probability=0.6)
    answered = _foreign(schema, "answered", variant="challenger")
    old = _foreign(schema, "old", variant=None)
    _write_day(tmp_path, TODAY, [shadowed, answered, old, *(["not json"] if corrupt else [])])

    rows = _read(tmp_path, schema, params).rows.set_index("request_id")

    shadowed_row, answered_row = rows.loc["shadowed"], rows.loc["answered"]
    assert (shadowed_row["variant"], shadowed_row["challenger_version"]) == ("champion", "churn:new")
    assert shadowed_row["challenger_probability"] == 0.6
    assert answered_row["variant"] == "challenger"
    assert pd.isna(answered_row["challenger_probability"])
    assert rows.loc["old", "variant"] == "champion", "a line from before variants was the champion's"


@pytest.mark.parametrize("corrupt", [False, True], ids=["columnar", "line by line"])
def test_a_line_from_before_prediction_and_client_ids_is_read_with_both_null(
    tmp_path: Path, schema: FeatureSchema, params: Params, corrupt: bool
) -> None:
    old = _foreign(schema, request_id="old", prediction_id=None, client_id=None)
    _write_day(tmp_path, TODAY, [old, _line(schema, "new"), *(["not json"] if corrupt else [])])

    window = _read(tmp_path, schema, params)

    rows = window.rows.set_index("request_id")
    assert rows.loc["old", ["prediction_id", "client_id"]].isna().all()
    assert rows.loc["new", "prediction_id"] == "new-0"
    assert window.skipped_lines == int(corrupt)


@pytest.mark.parametrize("corrupt", [False, True], ids=["columnar", "line by line"])
def test_a_client_id_holding_a_unicode_line_separator_stays_on_its_line(
    tmp_path: Path, schema: FeatureSchema, params: Params, corrupt: bool
) -> None:
    # JSON leaves U+2028 and U+0085 unescaped; only a newline ends a line of the log
    client_id = "C\u2028-\x85-1"
    line = json.dumps(json.loads(_line(schema, "req-1", client_id=client_id)), ensure_ascii=False)
    assert client_id in line, "written raw, as the service's serialiser writes it"
    log_file(tmp_path, TODAY).write_bytes(f"{line}\n{'x' if corrupt else ''}\n".encode())

    window = _read(tmp_path, schema, params)

    assert list(window.rows["client_id"]) == [client_id]
    assert window.skipped_lines == int(corrupt)


# ---------------------------------------------------------------------------------------------
# Every line held to the schema
# ---------------------------------------------------------------------------------------------


def test_unreadable_lines_are_skipped_counted_and_quoted_while_good_lines_are_kept(
    tmp_path: Path, schema: FeatureSchema, params: Params
) -> None:
    unreadable = [
        '{"timestamp": "2026-11-24T10:00:00+00:00", "request_id": "trunc',  # a truncated write
        "this is not JSON",
        json.dumps(["a", "JSON", "list"]),
        _foreign(schema, features=None),  # no features at all
        _foreign(schema, features=["not", "an", "object"]),
        _foreign(schema, churn_probability=True),  # a boolean probability
        _foreign(schema, churn_probability="0.3"),
        _foreign(schema, churn_probability=None),  # no probability
    ]
    good = [_line(schema, f"good-{index}", tenure=index) for index in range(4)]
    _write_day(tmp_path, TODAY, [good[0], *unreadable[:4], good[1], *unreadable[4:]])
    _write_day(tmp_path, date(2026, 11, 23), good[2:])

    window = _read(tmp_path, schema, params)

    assert window.skipped_lines == len(unreadable)
    assert _count(window, LINE, "unreadable") == len(unreadable)
    assert (window.contract.lines, window.contract.rows) == (len(unreadable) + 4, 4)
    assert sorted(window.rows["request_id"]) == ["good-0", "good-1", "good-2", "good-3"]
    examples = window.contract.rules[LINE, "unreadable"].examples
    assert [(example.line, example.text) for example in examples] == [
        (2, unreadable[0]),
        (3, unreadable[1]),
        (4, unreadable[2]),
    ], "the first lines, by their number in the file, as written"
    assert {example.file for example in examples} == {log_file(tmp_path, TODAY).as_posix()}


def test_a_value_of_the_wrong_type_is_counted_against_its_feature_and_read_as_null(
    tmp_path: Path, schema: FeatureSchema, params: Params
) -> None:
    customer = example_customer(schema)
    wrong = [
        _foreign(schema, "string-charge", features=customer | {"monthly_charges": "29.85"}),
        _foreign(schema, "boolean-tenure", features=customer | {"tenure": True}),
        _foreign(schema, "number-contract", features=customer | {"contract": 2}),
    ]
    _write_day(tmp_path, TODAY, [_line(schema, "good"), *wrong])

    window = _read(tmp_path, schema, params)

    assert window.skipped_lines == 0, "the line is readable: only its value broke the schema"
    rows = window.rows.set_index("request_id")
    assert rows["monthly_charges"].isna()["string-charge"]
    assert rows["tenure"].isna()["boolean-tenure"]
    assert rows["contract"].isna()["number-contract"]
    for feature, json_type, line in (
        ("monthly_charges", "string", 2),
        ("tenure", "boolean", 3),
        ("contract", "number", 4),
    ):
        count = window.contract.rules[feature, "type"]
        assert (count.count, dict(count.values)) == (1, {json_type: 1}), feature
        assert [example.line for example in count.examples] == [line]
        assert _count(window, feature, "max_null_fraction") == 0, "a wrong type is not counted as a null too"


def test_nulls_values_out_of_range_fractions_and_unknown_labels_are_counted_and_kept(
    tmp_path: Path, schema: FeatureSchema, params: Params
) -> None:
    customer = example_customer(schema)
    lines = [
        _foreign(schema, "null-total", features=customer | {"total_charges": None}),
        _foreign(
            schema, "missing-tenure", features={name: value for name, value in customer.items() if name != "tenure"}
        ),
        _foreign(schema, "negative", features=customer | {"monthly_charges": -5.0}),
        _foreign(schema, "huge", features=customer | {"monthly_charges": 5000.0}),
        _foreign(schema, "huger", features=customer | {"monthly_charges": 9000.0}),
        _foreign(schema, "fraction", features=customer | {"senior_citizen": 0.5}),
        _foreign(schema, "wallet", features=customer | {"payment_method": "Digital wallet"}),
        _foreign(schema, "wallet-2", features=customer | {"payment_method": "Digital wallet"}),
    ]
    _write_day(tmp_path, TODAY, lines)

    window = _read(tmp_path, schema, params)

    assert len(window.rows) == len(lines), "every one of them is a row: the scores see them too"
    assert window.skipped_lines == 0
    counted = {key: count.count for key, count in window.contract.rules.items() if count.count}
    assert counted == {
        ("total_charges", "max_null_fraction"): 1,
        ("tenure", "max_null_fraction"): 1,
        ("monthly_charges", "min"): 1,
        ("monthly_charges", "max"): 2,
        ("senior_citizen", "whole_number"): 1,
        ("payment_method", "categories"): 2,
    }
    assert window.contract.rules["monthly_charges", "min"].extreme == -5.0
    assert window.contract.rules["monthly_charges", "max"].extreme == 9000.0
    assert dict(window.contract.rules["payment_method", "categories"].values) == {"Digital wallet": 2}
    assert [example.line for example in window.contract.rules["monthly_charges", "max"].examples] == [4, 5]


def test_blank_lines_are_neither_rows_nor_skipped_and_do_not_shift_the_quoted_line_numbers(
    tmp_path: Path, schema: FeatureSchema, params: Params
) -> None:
    customer = example_customer(schema)
    wallet = _foreign(schema, "wallet", features=customer | {"payment_method": "Digital wallet"})
    path = log_file(tmp_path, TODAY)
    path.write_text(f"\n{_line(schema, 'req-1')}\n   \n{_line(schema, 'req-2')}\n\n{wallet}\n")

    window = _read(tmp_path, schema, params)

    assert list(window.rows["request_id"]) == ["req-1", "req-2", "wallet"]
    assert window.skipped_lines == 0
    assert window.contract.lines == 3
    assert [example.line for example in window.contract.rules["payment_method", "categories"].examples] == [6]


def test_a_file_read_line_by_line_quotes_the_same_line_numbers(
    tmp_path: Path, schema: FeatureSchema, params: Params
) -> None:
    # Given a file pyarrow cannot read whole (a line that is not JSON), with a blank line and an unknown label
    customer = example_customer(schema)
    wallet = _foreign(schema, "wallet", features=customer | {"payment_method": "Digital wallet"})
    path = log_file(tmp_path, TODAY)
    path.write_text(f"{_line(schema, 'req-1')}\n\nnot json\n{wallet}\n")

    window = _read(tmp_path, schema, params)

    assert [example.line for example in window.contract.rules[LINE, "unreadable"].examples] == [3]
    assert [example.line for example in window.contract.rules["payment_method", "categories"].examples] == [4]


def test_the_quoted_lines_stop_at_the_examples_setting_across_files_and_are_cut_short(
    tmp_path: Path, schema: FeatureSchema, params: Params
) -> None:
    customer = example_customer(schema)
    for day in (date(2026, 11, 23), TODAY):
        _write_day(
            tmp_path,
            day,
            [_foreign(schema, f"{day}-{index}", features=customer | {"total_charges": None}) for index in range(3)],
        )

    window = _read(tmp_path, schema, params, examples=2, example_chars=40)

    count = window.contract.rules["total_charges", "max_null_fraction"]
    assert count.count == 6
    assert [(example.file, example.line) for example in count.examples] == [
        (log_file(tmp_path, date(2026, 11, 23)).as_posix(), 1),
        (log_file(tmp_path, date(2026, 11, 23)).as_posix(), 2),
    ]
    assert all(len(example.text) == 41 and example.text.endswith("…") for example in count.examples)


def test_a_null_numeric_feature_and_an_integer_probability_are_kept(
    tmp_path: Path, schema: FeatureSchema, params: Params
) -> None:
    customer = example_customer(schema)
    _write_day(
        tmp_path,
        TODAY,
        [
            _foreign(schema, "null-total", features=customer | {"total_charges": None}),
            _foreign(schema, "certain", churn_probability=1),
        ],
    )

    window = _read(tmp_path, schema, params)

    assert window.skipped_lines == 0
    rows = window.rows.set_index("request_id")
    assert rows["total_charges"].isna()["null-total"]
    assert rows.loc["certain", "churn_probability"] == 1


def test_files_not_named_like_a_day_of_the_log_are_ignored(
    tmp_path: Path, schema: FeatureSchema, params: Params
) -> None:
    _write_day(tmp_path, TODAY, [_line(schema, "kept")])
    partial = log_file(tmp_path, TODAY)
    partial.with_name(f"{partial.name}.tmp").write_text(_line(schema, "partial") + "\n")
    (tmp_path / "notes.txt").write_text("not a log\n")
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "labels-2026-11-24.jsonl").write_text('{"prediction_id": "kept-0", "churn": true}\n')

    window = _read(tmp_path, schema, params)

    assert list(window.rows["request_id"]) == ["kept"]
    assert window.files == [log_file(tmp_path, TODAY).as_posix()]


def test_an_empty_directory_gives_an_empty_window_not_an_error(
    tmp_path: Path, schema: FeatureSchema, params: Params
) -> None:
    window = _read(tmp_path, schema, params)

    assert window.rows.empty
    assert "churn_probability" in window.rows.columns, "an empty window still has the window's columns"
    assert window.skipped_lines == 0
    assert (window.first_day, window.last_day, window.last_seen, window.files) == (None, None, None, [])
    assert (window.contract.lines, window.contract.rules) == (0, {})


def test_a_missing_directory_gives_an_empty_window_not_an_error(
    tmp_path: Path, schema: FeatureSchema, params: Params
) -> None:
    window = _read(tmp_path / "never-written", schema, params)

    assert window.rows.empty
    assert (window.first_day, window.last_day, window.last_seen, window.files) == (None, None, None, [])


def test_the_log_can_be_read_from_an_fsspec_url(schema: FeatureSchema, params: Params) -> None:
    memory = fsspec.filesystem("memory")
    root = f"/mlloop-test-{uuid.uuid4().hex}"
    memory.pipe(log_file(Path(root), date(2026, 11, 23)).as_posix(), f"{_line(schema, 'old')}\n".encode())
    memory.pipe(log_file(Path(root), TODAY).as_posix(), f"{_line(schema, 'new')}\nnot json\n".encode())
    try:
        window = _read(f"memory://{root}", schema, params, days=1)
    finally:
        memory.rm(root, recursive=True)

    assert list(window.rows["request_id"]) == ["new"]
    assert window.skipped_lines == 1
    assert window.last_day == TODAY


def test_a_file_named_like_a_day_that_does_not_exist_is_ignored(
    tmp_path: Path, schema: FeatureSchema, params: Params
) -> None:
    _write_day(tmp_path, TODAY, [_line(schema, "kept")])
    (tmp_path / LOG_FILE_NAME.format(day="2026-02-30")).write_text(_line(schema, "no such day") + "\n")

    window = _read(tmp_path, schema, params)

    assert list(window.rows["request_id"]) == ["kept"]


@pytest.fixture
def unreachable_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """S3 settings that point at a loopback port nothing listens on, and nowhere else."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    settings = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    s3fs.S3FileSystem.clear_instance_cache()
    yield
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.mark.usefixtures("unreachable_store")
def test_an_unreachable_object_store_is_an_error_that_names_the_setting_to_check(
    schema: FeatureSchema, params: Params
) -> None:
    with pytest.raises(SourceError) as raised:
        read_window("s3://mlloop/inference-log/production", schema, params.drift, TODAY)

    assert str(raised.value) == (
        "cannot list the inference log: s3://mlloop/inference-log/production: the endpoint cannot be reached; "
        "check AWS_ENDPOINT_URL (unset means AWS itself) and that the store is up"
    )
