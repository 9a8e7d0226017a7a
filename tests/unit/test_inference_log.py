"""The inference log writes one JSON line per prediction into the day's file, off the request
path, and counts what it could not write instead of failing the prediction."""

import json
from datetime import UTC, datetime
from pathlib import Path

from mlloop.inference_log import InferenceLog, log_file


def test_each_prediction_becomes_one_json_line_in_the_days_file(tmp_path: Path) -> None:
    failures: list[int] = []
    log = InferenceLog(tmp_path / "production", failures.append)

    log.record("req-1", "churn:abc", [({"tenure": 3}, 0.75, True), ({"tenure": 40}, 0.1, False)])
    log.close()

    today = log_file(tmp_path / "production", datetime.now(UTC))
    lines = [json.loads(line) for line in today.read_text().splitlines()]
    assert [(line["features"], line["churn_probability"], line["churn"]) for line in lines] == [
        ({"tenure": 3}, 0.75, True),
        ({"tenure": 40}, 0.1, False),
    ]
    assert {line["request_id"] for line in lines} == {"req-1"}
    assert {line["model_version"] for line in lines} == {"churn:abc"}
    assert datetime.fromisoformat(lines[0]["timestamp"]).tzinfo is not None, "timestamps must be UTC-aware"
    assert failures == []


def test_files_rotate_by_utc_day_in_their_name(tmp_path: Path) -> None:
    assert log_file(tmp_path, datetime(2026, 11, 23, 23, 59, tzinfo=UTC)).name == "predictions-2026-11-23.jsonl"
    assert log_file(tmp_path, datetime(2026, 11, 24, 0, 0, tzinfo=UTC)).name == "predictions-2026-11-24.jsonl"


def test_an_unwritable_directory_is_counted_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the log directory should be")
    failures: list[int] = []
    log = InferenceLog(blocker, failures.append)

    log.record("req-2", "churn:abc", [({"tenure": 3}, 0.5, True)] * 3)
    log.close()

    assert sum(failures) == 3
