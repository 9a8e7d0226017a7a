"""The inference log writes one JSON line per prediction into the day's file, off the request
path, and counts what it could not write instead of failing the prediction. A day file's name
is built and parsed in one place, so the drift check reads exactly the files the service wrote."""

import json
import queue
import threading
from datetime import UTC, date, datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest

from mlloop.serving.inference_log import LOG_FILE_GLOB, InferenceLog, day_of_log_file, log_file, prediction_id

WAIT_SECONDS = 10
"""Upper bound on any wait for the writer thread; a healthy run waits milliseconds."""
QUEUE_LINES = 1000
"""Room for every line these tests queue, unless a test is about the bound."""

Block = tuple[date, list[bytes]]


def test_each_prediction_becomes_one_json_line_in_the_days_file(tmp_path: Path) -> None:
    failures: list[int] = []
    log = InferenceLog(tmp_path / "production", QUEUE_LINES, failures.append)

    log.record(
        "req-1",
        "churn:abc",
        [("req-1-0", "C-17", {"tenure": 3}, 0.75, True), ("req-1-1", None, {"tenure": 40}, 0.1, False)],
    )
    log.close()

    today = log_file(tmp_path / "production", datetime.now(UTC))
    lines = [json.loads(line) for line in today.read_text().splitlines()]
    assert [(line["features"], line["churn_probability"], line["churn"]) for line in lines] == [
        ({"tenure": 3}, 0.75, True),
        ({"tenure": 40}, 0.1, False),
    ]
    assert {line["request_id"] for line in lines} == {"req-1"}
    assert [(line["prediction_id"], line["client_id"]) for line in lines] == [("req-1-0", "C-17"), ("req-1-1", None)]
    assert {line["model_version"] for line in lines} == {"churn:abc"}
    assert datetime.fromisoformat(lines[0]["timestamp"]).tzinfo is not None, "timestamps must be UTC-aware"
    assert failures == []


def test_each_row_of_a_request_has_its_own_prediction_id_from_the_request_id_and_its_position() -> None:
    assert [prediction_id("3f2a", position) for position in range(3)] == ["3f2a-0", "3f2a-1", "3f2a-2"]


def test_files_rotate_by_utc_day_in_their_name(tmp_path: Path) -> None:
    assert log_file(tmp_path, datetime(2026, 11, 23, 23, 59, tzinfo=UTC)).name == "predictions-2026-11-23.jsonl"
    assert log_file(tmp_path, datetime(2026, 11, 24, 0, 0, tzinfo=UTC)).name == "predictions-2026-11-24.jsonl"
    assert log_file(tmp_path, date(2026, 11, 24)).name == "predictions-2026-11-24.jsonl"


def test_the_day_is_read_back_from_the_name_the_writer_gave_the_file(tmp_path: Path) -> None:
    day = date(2026, 11, 24)

    assert day_of_log_file(log_file(tmp_path, day).as_posix()) == day
    assert day_of_log_file(f"s3://logs/pod-a/{log_file(tmp_path, day).name}") == day, "any folder, any store"
    assert fnmatch(log_file(tmp_path, day).name, LOG_FILE_GLOB)


@pytest.mark.parametrize(
    "name",
    [
        "predictions-2026-11-25.jsonl.tmp",  # a shipper's partial upload
        "predictions-2026-02-30.jsonl",  # no such day
        "predictions-20261124.jsonl",  # ISO, but not the writer's form
        "labels-2026-11-24.jsonl",
        "notes.txt",
    ],
)
def test_a_file_the_writer_would_not_have_named_has_no_day(name: str) -> None:
    assert day_of_log_file(f"logs/{name}") is None


def test_an_unwritable_directory_is_counted_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the log directory should be")
    failures: list[int] = []
    log = InferenceLog(blocker, QUEUE_LINES, failures.append)

    log.record("req-2", "churn:abc", [("req-2-0", None, {"tenure": 3}, 0.5, True)] * 3)
    log.close()

    assert sum(failures) == 3


def _predictions(count: int) -> list[tuple[str, str | None, dict[str, Any], float, bool]]:
    """One request's rows: (prediction_id, client_id, features, churn_probability, churn) each."""
    return [(f"row-{index}", None, {"tenure": index}, 0.5, True) for index in range(count)]


def test_beyond_the_queue_bound_whole_requests_are_counted_not_raised_until_the_writer_catches_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: room for 5 queued lines, and a writer that stalls until released
    release = threading.Event()
    written: queue.Queue[int] = queue.Queue()
    append = InferenceLog._append

    def stalled_append(self: InferenceLog, blocks: list[Block]) -> None:
        assert release.wait(WAIT_SECONDS), "the test never released the writer"
        append(self, blocks)
        written.put(sum(len(lines) for _, lines in blocks))

    monkeypatch.setattr(InferenceLog, "_append", stalled_append)
    failures: list[int] = []
    log = InferenceLog(tmp_path, 5, failures.append)
    try:
        # when: the bound is reached while nothing is written
        log.record("fits", "churn:abc", _predictions(3))
        log.record("fills", "churn:abc", _predictions(2))
        log.record("one-too-many", "churn:abc", _predictions(1))
        log.record("four-too-many", "churn:abc", _predictions(4))

        # then: each request beyond it is dropped whole and counted by its lines
        assert failures == [1, 4]

        # when: the writer resumes and writes what was queued
        release.set()
        lines_written = 0
        while lines_written < 5:
            lines_written += written.get(timeout=WAIT_SECONDS)

        # then: there is room again, up to the bound
        log.record("after", "churn:abc", _predictions(5))
        assert failures == [1, 4], "a request within the bound must be accepted once the writer caught up"
    finally:
        release.set()
        log.close()

    request_ids = [
        json.loads(line)["request_id"]
        for path in sorted(tmp_path.glob(LOG_FILE_GLOB))
        for line in path.read_text().splitlines()
    ]
    assert request_ids == ["fits"] * 3 + ["fills"] * 2 + ["after"] * 5
