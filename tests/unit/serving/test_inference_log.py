"""The inference log writes one JSON line per prediction into the day's file, off the request
path, and counts what it could not write instead of failing the prediction. A day file's name
is built and parsed in one place, so the drift check reads exactly the files the service wrote."""

import json
import queue
import threading
import time
from datetime import UTC, date, datetime
from fnmatch import fnmatch
from pathlib import Path

import pytest

from mlloop.serving.inference_log import (
    CLOSED_FILE,
    LOG_FILE_GLOB,
    InferenceLog,
    LoggedRow,
    ShadowAnswer,
    Variant,
    day_of_log_file,
    log_file,
    log_line,
    prediction_id,
)

WAIT_SECONDS = 10
"""Upper bound on any wait for the writer thread; a healthy run waits milliseconds."""
QUEUE_LINES = 1000
"""Room for every line these tests queue, unless a test is about the bound."""

Block = tuple[date, list[bytes]]
ONE_MODEL: dict[Variant, str] = {"champion": "churn:abc"}


def test_each_prediction_becomes_one_json_line_in_the_days_file(tmp_path: Path) -> None:
    failures: list[int] = []
    log = InferenceLog(tmp_path / "production", QUEUE_LINES, failures.append)

    log.record(
        "req-1",
        ONE_MODEL,
        [
            ("req-1-0", "C-17", {"tenure": 3}, 0.75, True, "champion", None),
            ("req-1-1", None, {"tenure": 40}, 0.1, False, "champion", None),
        ],
        shadowed=False,
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


def test_a_line_names_the_variant_that_answered_and_in_shadow_mode_the_challengers_answer() -> None:
    shadowed = log_line("t", "r", "r-0", None, "churn:old", {}, 0.2, False, shadow=ShadowAnswer("churn:new", 0.7))
    answered = log_line("t", "r", "r-1", None, "churn:new", {}, 0.7, True, variant="challenger")

    first, second = json.loads(shadowed), json.loads(answered)
    assert (first["variant"], first["model_version"], first["churn_probability"]) == ("champion", "churn:old", 0.2)
    assert (first["challenger_version"], first["challenger_probability"]) == ("churn:new", 0.7)
    assert (second["variant"], second["model_version"]) == ("challenger", "churn:new")
    assert (second["challenger_version"], second["challenger_probability"]) == (None, None)


def test_a_recorded_row_names_the_version_of_the_variant_that_answered_it_and_the_shadow_answer(
    tmp_path: Path,
) -> None:
    # given: a bento's two models, a request of two rows answered in split mode, then one of two rows in shadow
    # mode, of which the challenger skipped one (the model process was busy)
    log = InferenceLog(tmp_path, QUEUE_LINES, lambda _: None)
    versions: dict[Variant, str] = {"champion": "churn_champion:old", "challenger": "churn:new"}

    split: list[LoggedRow] = [
        ("req-3-0", "C-1", {"tenure": 3}, 0.75, True, "challenger", None),
        ("req-3-1", "C-2", {"tenure": 4}, 0.25, False, "champion", None),
    ]
    log.record("req-3", versions, split, shadowed=False)
    shadow: list[LoggedRow] = [
        ("req-4-0", None, {"tenure": 5}, 0.5, True, "champion", 0.6),
        ("req-4-1", None, {"tenure": 6}, 0.4, False, "champion", None),
    ]
    log.record("req-4", versions, shadow, shadowed=True)
    log.close()

    # then: each line names the variant that answered and its version, and each shadow row the challenger, with
    # its answer where it gave one
    lines = [json.loads(line) for line in log_file(tmp_path, datetime.now(UTC)).read_text().splitlines()]
    assert [(line["variant"], line["model_version"]) for line in lines] == [
        ("challenger", "churn:new"),
        ("champion", "churn_champion:old"),
        ("champion", "churn_champion:old"),
        ("champion", "churn_champion:old"),
    ]
    assert [(line["challenger_version"], line["challenger_probability"]) for line in lines] == [
        (None, None),
        (None, None),
        ("churn:new", 0.6),
        ("churn:new", None),
    ]


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

    log.record("req-2", ONE_MODEL, [("req-2-0", None, {"tenure": 3}, 0.5, True, "champion", None)] * 3, shadowed=False)
    log.close()

    assert sum(failures) == 3


def _predictions(count: int) -> list[LoggedRow]:
    """One request's rows, each answered by the champion."""
    return [(f"row-{index}", None, {"tenure": index}, 0.5, True, "champion", None) for index in range(count)]


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
        log.record("fits", ONE_MODEL, _predictions(3), shadowed=False)
        log.record("fills", ONE_MODEL, _predictions(2), shadowed=False)
        log.record("one-too-many", ONE_MODEL, _predictions(1), shadowed=False)
        log.record("four-too-many", ONE_MODEL, _predictions(4), shadowed=False)

        # then: each request beyond it is dropped whole and counted by its lines
        assert failures == [1, 4]

        # when: the writer resumes and writes what was queued
        release.set()
        lines_written = 0
        while lines_written < 5:
            lines_written += written.get(timeout=WAIT_SECONDS)

        # then: there is room again, up to the bound
        log.record("after", ONE_MODEL, _predictions(5), shadowed=False)
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


def _logged_request_ids(directory: Path) -> list[str]:
    return [
        json.loads(line)["request_id"]
        for path in sorted(directory.glob(LOG_FILE_GLOB))
        for line in path.read_text().splitlines()
    ]


def test_closing_writes_every_line_still_queued_behind_a_slow_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a writer that takes a fifth of a second per append, and 100 requests of 10 lines
    # recorded faster than that, so nearly all of them wait in the queue
    append = InferenceLog._append

    def slow_append(self: InferenceLog, blocks: list[Block]) -> None:
        time.sleep(0.2)
        append(self, blocks)

    monkeypatch.setattr(InferenceLog, "_append", slow_append)
    failures: list[int] = []
    log = InferenceLog(tmp_path, QUEUE_LINES, failures.append)
    request_ids = [f"req-{index}" for index in range(100)]
    for request_id in request_ids:
        log.record(request_id, ONE_MODEL, _predictions(10), shadowed=False)
    assert len(_logged_request_ids(tmp_path)) < 1000, "the writer was meant to be behind when the log closes"

    # when: the log is closed, as the service's shutdown does
    unwritten = log.close(WAIT_SECONDS)

    # then: every recorded line is in the files, in the order recorded, and none is reported lost
    assert unwritten == 0
    assert _logged_request_ids(tmp_path) == [request_id for request_id in request_ids for _ in range(10)]
    assert failures == []


def test_lines_the_writer_could_not_reach_before_the_deadline_are_returned_for_counting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a writer stalled until released, with 3 + 4 lines queued behind it
    release = threading.Event()
    append = InferenceLog._append

    def stalled_append(self: InferenceLog, blocks: list[Block]) -> None:
        assert release.wait(WAIT_SECONDS), "the test never released the writer"
        append(self, blocks)

    monkeypatch.setattr(InferenceLog, "_append", stalled_append)
    failures: list[int] = []
    log = InferenceLog(tmp_path, QUEUE_LINES, failures.append)
    log.record("first", ONE_MODEL, _predictions(3), shadowed=False)
    log.record("second", ONE_MODEL, _predictions(4), shadowed=False)

    # when: the drain's deadline passes with the writer still stuck
    started = time.monotonic()
    unwritten = log.close(0.2)
    waited = time.monotonic() - started
    release.set()

    # then: close returns at its deadline with every line not written, and the directory says it is closed
    assert unwritten == 7
    assert failures == [], "lines cut off by the deadline are the caller's to count, not write failures"
    assert waited < WAIT_SECONDS / 2, f"close waited {waited:.1f} s past its 0.2 s deadline"
    assert (tmp_path / CLOSED_FILE).is_file()


def test_a_closed_log_marks_its_directory_and_a_log_opening_there_removes_the_mark(tmp_path: Path) -> None:
    # The pod's log shipper uploads once more when the mark appears: a mark left by an earlier run would
    # make it upload before this run's last lines are written.
    failures: list[int] = []
    InferenceLog(tmp_path, QUEUE_LINES, failures.append).close()
    assert (tmp_path / CLOSED_FILE).is_file()

    reopened = InferenceLog(tmp_path, QUEUE_LINES, failures.append)
    assert not (tmp_path / CLOSED_FILE).exists()
    reopened.close()
