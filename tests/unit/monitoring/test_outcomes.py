"""Delayed labels are read from `labels/labels-YYYY-MM-DD.jsonl` beside the log and joined one label to
one logged row: by prediction_id, each row of a batch its own; by client id, the client's latest row.
Labels that join no row, and lines of another shape, are counted, never dropped unseen. Log lines
from before prediction ids get the id the service would have given them.
"""

import uuid
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import fsspec
import pandas as pd
import pytest

from mlloop.monitoring.label_files import label_line, labels_file
from mlloop.monitoring.outcomes import (
    LABEL,
    NO_LABELS,
    Labels,
    join_outcomes,
    read_labels,
    row_prediction_ids,
)
from mlloop.serving.inference_log import prediction_id

DAY = date(2026, 11, 24)


def _rows(*rows: tuple[str | None, str | None, str | None, str, float]) -> pd.DataFrame:
    """Window rows: (request_id, prediction_id, client_id, timestamp, churn_probability) each."""
    return pd.DataFrame.from_records(
        rows, columns=["request_id", "prediction_id", "client_id", "timestamp", "churn_probability"]
    )


def _labels(by_prediction: dict[str, bool], by_client: dict[str, bool], unreadable_lines: int = 0) -> Labels:
    return Labels(
        pd.Series(by_prediction, index=pd.Index(list(by_prediction), dtype="str"), dtype=bool),
        pd.Series(by_client, index=pd.Index(list(by_client), dtype="str"), dtype=bool),
        unreadable_lines,
    )


def _read(labels: Labels) -> tuple[dict[Any, Any], dict[Any, Any], int]:
    """Labels as plain data, to compare."""
    return labels.by_prediction.to_dict(), labels.by_client.to_dict(), labels.unreadable_lines


def _write_labels(directory: Path, day: date, lines: Sequence[bytes | str]) -> None:
    path = labels_file(directory, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join((line.encode() if isinstance(line, str) else line) + b"\n" for line in lines))


def test_labels_written_by_label_line_are_read_back_by_their_key(tmp_path: Path) -> None:
    _write_labels(
        tmp_path,
        DAY,
        [label_line(True, row_id="req-a-0"), label_line(False, row_id="req-a-1"), label_line(True, client_id="C-1")],
    )

    labels = read_labels(tmp_path.as_posix())

    assert _read(labels) == ({"req-a-0": True, "req-a-1": False}, {"C-1": True}, 0)
    assert labels_file(tmp_path, DAY) == tmp_path / "labels" / "labels-2026-11-24.jsonl"


@pytest.mark.parametrize("corrupt", [False, True], ids=["columnar", "line by line"])
def test_label_lines_without_an_id_or_a_boolean_outcome_are_counted_as_unreadable(
    tmp_path: Path, corrupt: bool
) -> None:
    lines = [
        '{"prediction_id": "req-1-0", "churn": true}',
        '{"churn": true}',  # no id
        '{"prediction_id": "req-2-0"}',  # no outcome
        '{"client_id": "C-1", "churn": null}',
        "",  # blank: neither a label nor unreadable
        '{"client_id": "C-2", "churn": false}',
    ]
    broken = ['{"prediction_id": "req-3-0", "churn": "Yes"}', "not json", '["req-4-0", true]', '{"request_id": "r"']
    _write_labels(tmp_path, DAY, lines + (broken if corrupt else []))

    labels = read_labels(tmp_path.as_posix())

    assert _read(labels) == ({"req-1-0": True}, {"C-2": False}, 3 + (len(broken) if corrupt else 0))


def test_a_line_with_both_ids_is_a_prediction_id_label(tmp_path: Path) -> None:
    _write_labels(tmp_path, DAY, ['{"prediction_id": "req-1-0", "client_id": "C-1", "churn": true}'])

    assert _read(read_labels(tmp_path.as_posix())) == ({"req-1-0": True}, {}, 0)


def test_a_later_label_for_the_same_id_replaces_the_earlier(tmp_path: Path) -> None:
    _write_labels(tmp_path, date(2026, 11, 23), [label_line(True, row_id="req-1-0")])
    _write_labels(tmp_path, DAY, [label_line(False, row_id="req-1-0")])

    assert _read(read_labels(tmp_path.as_posix())) == ({"req-1-0": False}, {}, 0), "one label for the id"


def test_labels_written_before_the_window_began_and_other_files_are_not_read(tmp_path: Path) -> None:
    _write_labels(tmp_path, date(2026, 11, 16), [label_line(True, row_id="before-0")])
    _write_labels(tmp_path, date(2026, 11, 17), [label_line(True, row_id="first-day-0")])
    (tmp_path / "labels" / "notes.jsonl").write_text('{"prediction_id": "notes-0", "churn": true}\n')
    (tmp_path / "labels" / "labels-2026-02-30.jsonl").write_text('{"prediction_id": "no-day-0", "churn": true}\n')

    assert _read(read_labels(tmp_path.as_posix(), since=date(2026, 11, 17))) == ({"first-day-0": True}, {}, 0)
    assert set(read_labels(tmp_path.as_posix()).by_prediction.index) == {"before-0", "first-day-0"}


def test_no_labels_yet_gives_no_labels(tmp_path: Path) -> None:
    assert _read(read_labels(tmp_path.as_posix())) == _read(NO_LABELS) == ({}, {}, 0)
    assert _read(read_labels((tmp_path / "never-written").as_posix())) == ({}, {}, 0)


def test_labels_can_be_read_from_an_fsspec_url() -> None:
    memory = fsspec.filesystem("memory")
    root = f"/mlloop-test-{uuid.uuid4().hex}"
    memory.pipe(labels_file(Path(root), DAY).as_posix(), label_line(True, client_id="C-1") + b"\nnot json\n")
    try:
        labels = read_labels(f"memory://{root}")
    finally:
        memory.rm(root, recursive=True)

    assert _read(labels) == ({}, {"C-1": True}, 1)


def test_each_row_of_a_batch_gets_its_own_label() -> None:
    # given: one batch request of four customers, and a label for three of them
    batch = _rows(
        *(("req-b", f"req-b-{position}", None, "2026-11-24T10:00:00+00:00", 0.2 * position) for position in range(4))
    )
    labels = _labels({"req-b-0": False, "req-b-1": True, "req-b-3": False}, {})

    # when
    outcomes = join_outcomes(batch, labels)

    # then: each label is on its own row, and the unlabelled row is not among them
    assert list(outcomes.rows["prediction_id"]) == ["req-b-0", "req-b-1", "req-b-3"]
    assert list(outcomes.rows[LABEL]) == [False, True, False]
    assert list(outcomes.rows["churn_probability"]) == [0.0, 0.2, pytest.approx(0.6)]
    assert (outcomes.labels, outcomes.unmatched_labels) == (3, 0)


def test_a_client_label_joins_the_clients_latest_row_once() -> None:
    rows = _rows(
        ("req-1", "req-1-0", "C-1", "2026-11-24T18:00:00+00:00", 0.9),
        ("req-2", "req-2-0", "C-1", "2026-11-24T09:00:00.5+00:00", 0.1),  # earlier, though read later
        ("req-3", "req-3-0", "C-2", "2026-11-23T12:00:00+00:00", 0.4),
        ("req-4", "req-4-0", None, "2026-11-24T12:00:00+00:00", 0.7),
    )

    outcomes = join_outcomes(rows, _labels({}, {"C-1": True, "C-2": False}, 0))

    assert list(zip(outcomes.rows["prediction_id"], outcomes.rows[LABEL], strict=True)) == [
        ("req-1-0", True),
        ("req-3-0", False),
    ]
    assert outcomes.unmatched_labels == 0


def test_a_row_labelled_both_ways_takes_its_prediction_id_label() -> None:
    rows = _rows(("req-1", "req-1-0", "C-1", "2026-11-24T18:00:00+00:00", 0.9))

    outcomes = join_outcomes(rows, _labels({"req-1-0": False}, {"C-1": True}, 0))

    assert list(outcomes.rows[LABEL]) == [False]
    assert (outcomes.labels, outcomes.unmatched_labels) == (2, 0), "both labels found their row"


def test_labels_that_join_no_row_are_counted_with_the_unreadable_lines() -> None:
    rows = _rows(("req-1", "req-1-0", "C-1", "2026-11-24T18:00:00+00:00", 0.9))
    labels = _labels({"req-1-0": True, "req-1-1": False, "gone-0": True}, {"C-1": True, "C-404": False}, 2)

    outcomes = join_outcomes(rows, labels)

    assert len(outcomes.rows) == 1
    assert (outcomes.labels, outcomes.unmatched_labels, outcomes.unreadable_label_lines) == (5, 3, 2)


def test_an_old_line_gets_the_prediction_id_of_its_position_in_its_request() -> None:
    # given: a batch of three and a single request, logged before lines carried prediction ids, then a new line
    rows = _rows(
        ("old-batch", None, None, "2026-11-24T10:00:00+00:00", 0.1),
        ("old-batch", None, None, "2026-11-24T10:00:00+00:00", 0.2),
        ("old-single", None, None, "2026-11-24T10:00:01+00:00", 0.3),
        ("old-batch", None, None, "2026-11-24T10:00:00+00:00", 0.4),
        ("new", "new-0", "C-1", "2026-11-24T11:00:00+00:00", 0.5),
    )

    expected = [("old-batch", 0), ("old-batch", 1), ("old-single", 0), ("old-batch", 2), ("new", 0)]
    assert list(row_prediction_ids(rows)) == [prediction_id(*row) for row in expected], "the service's own format"
    outcomes = join_outcomes(rows, _labels({"old-batch-1": True, "old-single-0": False}, {}, 0))
    assert list(outcomes.rows["churn_probability"]) == [0.2, 0.3]


def test_an_empty_window_joins_nothing_and_counts_every_label_unmatched() -> None:
    outcomes = join_outcomes(_rows(), _labels({"req-1-0": True}, {"C-1": True}, 0))

    assert outcomes.rows.empty
    assert outcomes.unmatched_labels == 2
