"""Reading the inference log's latest window.

The window is the newest `days` days of day files (named by inference_log.log_file), in any folder under a
local directory or any fsspec URL (in Kubernetes, one folder per pod). The log is production's and not
ours to trust: a line that is not JSON, or JSON of another shape, is skipped and counted, never fatal.
No log at all gives an empty window. Lines written before the log carried prediction and client ids are
read as they were.
"""

import json
import os
import socket
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import fsspec
import pytest
import s3fs

from mlloop.core.schema import FeatureSchema
from mlloop.errors import SourceError
from mlloop.monitoring.log_window import read_window
from mlloop.serving.inference_log import LOG_FILE_NAME, log_file
from mlloop.serving.smoke import example_customer

MODEL_VERSION = "churn:abc123"


def _line(
    schema: FeatureSchema, request_id: str, tenure: int = 0, probability: float = 0.25, client_id: str | None = None
) -> str:
    """One log line in the service's format, for a customer the schema allows, its request's first row."""
    features = example_customer(schema) | {"tenure": tenure}
    return json.dumps(
        {
            "timestamp": "2026-11-24T10:00:00+00:00",
            "request_id": request_id,
            "prediction_id": f"{request_id}-0",
            "client_id": client_id,
            "model_version": MODEL_VERSION,
            "features": features,
            "churn_probability": probability,
            "churn": probability >= 0.5,
        }
    )


def _write_day(directory: Path, day: date, lines: list[str]) -> Path:
    path = log_file(directory, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


def _foreign(schema: FeatureSchema, **changes: Any) -> str:
    """A JSON line of the right kind with some of its fields replaced (None removes a field)."""
    line: dict[str, Any] = json.loads(_line(schema, "foreign"))
    for key, value in changes.items():
        if value is None:
            del line[key]
        else:
            line[key] = value
    return json.dumps(line)


def test_only_the_newest_days_files_are_read(tmp_path: Path, schema: FeatureSchema) -> None:
    for offset, day in enumerate([date(2026, 11, 22), date(2026, 11, 23), date(2026, 11, 24)]):
        _write_day(tmp_path, day, [_line(schema, f"day{offset}-{index}") for index in range(3)])

    window = read_window(tmp_path.as_posix(), days=2, schema=schema)

    assert len(window.rows) == 6
    assert not window.rows["request_id"].str.startswith("day0-").any(), "the oldest day is outside the window"
    assert (window.first_day, window.last_day) == (date(2026, 11, 23), date(2026, 11, 24))
    assert window.files == [log_file(tmp_path, day).as_posix() for day in (date(2026, 11, 23), date(2026, 11, 24))]
    assert window.skipped_lines == 0


def test_each_pods_day_files_are_read_together_as_one_day(tmp_path: Path, schema: FeatureSchema) -> None:
    # Given two pods that each shipped their own day files to <log>/<pod name>/
    for pod in ("churn-service-a", "churn-service-b"):
        for day in (date(2026, 11, 22), date(2026, 11, 23), date(2026, 11, 24)):
            _write_day(tmp_path / pod, day, [_line(schema, f"{pod}-{day}")])

    # When the last two days are read
    window = read_window(tmp_path.as_posix(), days=2, schema=schema)

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


def test_the_newest_day_present_ends_the_window_even_with_gaps_between_days(
    tmp_path: Path, schema: FeatureSchema
) -> None:
    _write_day(tmp_path, date(2026, 10, 1), [_line(schema, "october")])
    _write_day(tmp_path, date(2026, 11, 24), [_line(schema, "november")])

    window = read_window(tmp_path.as_posix(), days=7, schema=schema)

    assert sorted(window.rows["request_id"]) == ["november", "october"], "days are counted in files, not in dates"
    assert (window.first_day, window.last_day) == (date(2026, 10, 1), date(2026, 11, 24))


def test_each_row_holds_the_features_the_probability_and_where_it_came_from(
    tmp_path: Path, schema: FeatureSchema
) -> None:
    _write_day(tmp_path, date(2026, 11, 24), [_line(schema, "req-1", tenure=17, probability=0.8, client_id="C-9")])

    window = read_window(tmp_path.as_posix(), days=7, schema=schema)

    assert list(window.rows.columns) == [
        *schema.feature_names,
        "churn_probability",
        "timestamp",
        "request_id",
        "model_version",
        "prediction_id",
        "client_id",
    ]
    row = window.rows.iloc[0]
    assert row["tenure"] == 17
    assert row["churn_probability"] == 0.8
    assert row["request_id"] == "req-1"
    assert (row["prediction_id"], row["client_id"]) == ("req-1-0", "C-9")
    assert row["model_version"] == MODEL_VERSION
    assert row["timestamp"] == "2026-11-24T10:00:00+00:00"
    assert row["contract"] == example_customer(schema)["contract"]


@pytest.mark.parametrize("corrupt", [False, True], ids=["columnar", "line by line"])
def test_a_line_from_before_prediction_and_client_ids_is_read_with_both_null(
    tmp_path: Path, schema: FeatureSchema, corrupt: bool
) -> None:
    old = _foreign(schema, request_id="old", prediction_id=None, client_id=None)
    _write_day(tmp_path, date(2026, 11, 24), [old, _line(schema, "new"), *(["not json"] if corrupt else [])])

    window = read_window(tmp_path.as_posix(), days=7, schema=schema)

    rows = window.rows.set_index("request_id")
    assert rows.loc["old", ["prediction_id", "client_id"]].isna().all()
    assert rows.loc["new", "prediction_id"] == "new-0"
    assert window.skipped_lines == int(corrupt)


@pytest.mark.parametrize("corrupt", [False, True], ids=["columnar", "line by line"])
def test_a_client_id_holding_a_unicode_line_separator_stays_on_its_line(
    tmp_path: Path, schema: FeatureSchema, corrupt: bool
) -> None:
    # JSON leaves U+2028 and U+0085 unescaped; only a newline ends a line of the log
    client_id = "C\u2028-\x85-1"
    line = json.dumps(json.loads(_line(schema, "req-1", client_id=client_id)), ensure_ascii=False)
    assert client_id in line, "written raw, as the service's serialiser writes it"
    log_file(tmp_path, date(2026, 11, 24)).write_bytes(f"{line}\n{'x' if corrupt else ''}\n".encode())

    window = read_window(tmp_path.as_posix(), days=7, schema=schema)

    assert list(window.rows["client_id"]) == [client_id]
    assert window.skipped_lines == int(corrupt)


def test_corrupt_and_foreign_lines_are_skipped_and_counted_while_good_lines_are_kept(
    tmp_path: Path, schema: FeatureSchema
) -> None:
    customer = example_customer(schema)
    bad_lines = [
        '{"timestamp": "2026-11-24T10:00:00+00:00", "request_id": "trunc',  # a truncated write
        "this is not JSON",
        json.dumps(["a", "JSON", "list"]),
        _foreign(schema, features=None),  # no features at all
        _foreign(schema, features=customer | {"monthly_charges": "29.85"}),  # a string for a numeric feature
        _foreign(schema, features=customer | {"tenure": True}),  # a boolean for a numeric feature
        _foreign(schema, features={name: value for name, value in customer.items() if name != "tenure"}),
        _foreign(schema, features=customer | {"contract": 2}),  # a number for a category
        _foreign(schema, churn_probability=True),  # a boolean probability
        _foreign(schema, churn_probability="0.3"),
        _foreign(schema, churn_probability=None),  # no probability
    ]
    good_lines = [_line(schema, f"good-{index}", tenure=index) for index in range(4)]
    _write_day(tmp_path, date(2026, 11, 24), [good_lines[0], *bad_lines[:6], good_lines[1], *bad_lines[6:]])
    _write_day(tmp_path, date(2026, 11, 23), good_lines[2:])

    window = read_window(tmp_path.as_posix(), days=7, schema=schema)

    assert window.skipped_lines == len(bad_lines)
    assert sorted(window.rows["request_id"]) == ["good-0", "good-1", "good-2", "good-3"]
    assert sorted(window.rows["tenure"]) == [0, 1, 2, 3]


def test_blank_lines_are_neither_rows_nor_skipped(tmp_path: Path, schema: FeatureSchema) -> None:
    path = log_file(tmp_path, date(2026, 11, 24))
    path.write_text(f"\n{_line(schema, 'req-1')}\n   \n{_line(schema, 'req-2')}\n\n")

    window = read_window(tmp_path.as_posix(), days=7, schema=schema)

    assert list(window.rows["request_id"]) == ["req-1", "req-2"]
    assert window.skipped_lines == 0


def test_a_null_numeric_feature_and_an_integer_probability_are_kept(tmp_path: Path, schema: FeatureSchema) -> None:
    customer = example_customer(schema)
    _write_day(
        tmp_path,
        date(2026, 11, 24),
        [
            _foreign(schema, request_id="null-total", features=customer | {"total_charges": None}),
            _foreign(schema, request_id="certain", churn_probability=1),
        ],
    )

    window = read_window(tmp_path.as_posix(), days=7, schema=schema)

    assert window.skipped_lines == 0
    rows = window.rows.set_index("request_id")
    assert rows["total_charges"].isna()["null-total"]
    assert rows.loc["certain", "churn_probability"] == 1


def test_files_not_named_like_a_day_of_the_log_are_ignored(tmp_path: Path, schema: FeatureSchema) -> None:
    _write_day(tmp_path, date(2026, 11, 24), [_line(schema, "kept")])
    partial = log_file(tmp_path, date(2026, 11, 25))
    partial.with_name(f"{partial.name}.tmp").write_text(_line(schema, "partial") + "\n")
    (tmp_path / "notes.txt").write_text("not a log\n")
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "labels-2026-11-25.jsonl").write_text('{"prediction_id": "kept-0", "churn": true}\n')

    window = read_window(tmp_path.as_posix(), days=7, schema=schema)

    assert list(window.rows["request_id"]) == ["kept"]
    assert window.files == [log_file(tmp_path, date(2026, 11, 24)).as_posix()]


def test_an_empty_directory_gives_an_empty_window_not_an_error(tmp_path: Path, schema: FeatureSchema) -> None:
    window = read_window(tmp_path.as_posix(), days=7, schema=schema)

    assert window.rows.empty
    assert "churn_probability" in window.rows.columns, "an empty window still has the window's columns"
    assert window.skipped_lines == 0
    assert (window.first_day, window.last_day, window.files) == (None, None, [])


def test_a_missing_directory_gives_an_empty_window_not_an_error(tmp_path: Path, schema: FeatureSchema) -> None:
    window = read_window((tmp_path / "never-written").as_posix(), days=7, schema=schema)

    assert window.rows.empty
    assert (window.first_day, window.last_day, window.files) == (None, None, [])


def test_the_log_can_be_read_from_an_fsspec_url(schema: FeatureSchema) -> None:
    memory = fsspec.filesystem("memory")
    root = f"/mlloop-test-{uuid.uuid4().hex}"
    memory.pipe(log_file(Path(root), date(2026, 11, 23)).as_posix(), f"{_line(schema, 'old')}\n".encode())
    memory.pipe(log_file(Path(root), date(2026, 11, 24)).as_posix(), f"{_line(schema, 'new')}\nnot json\n".encode())
    try:
        window = read_window(f"memory://{root}", days=1, schema=schema)
    finally:
        memory.rm(root, recursive=True)

    assert list(window.rows["request_id"]) == ["new"]
    assert window.skipped_lines == 1
    assert window.last_day == date(2026, 11, 24)


def test_a_file_named_like_a_day_that_does_not_exist_is_ignored(tmp_path: Path, schema: FeatureSchema) -> None:
    _write_day(tmp_path, date(2026, 11, 24), [_line(schema, "kept")])
    (tmp_path / LOG_FILE_NAME.format(day="2026-02-30")).write_text(_line(schema, "no such day") + "\n")

    window = read_window(tmp_path.as_posix(), days=7, schema=schema)

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
def test_an_unreachable_object_store_is_an_error_that_names_the_setting_to_check(schema: FeatureSchema) -> None:
    with pytest.raises(SourceError) as raised:
        read_window("s3://mlloop/inference-log/production", days=7, schema=schema)

    assert str(raised.value) == (
        "cannot list the inference log: s3://mlloop/inference-log/production: the endpoint cannot be reached; "
        "check AWS_ENDPOINT_URL (unset means AWS itself) and that the store is up"
    )
