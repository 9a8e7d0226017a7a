"""The window's join of delayed labels on the files' outcome indexes gives what monitoring.outcomes gives on the rows,
however many key ranges its memory budget splits it into: the same cells, the same label counts, the latest label
of a key winning across files and days, a client's label on its latest row unless a prediction_id label took it.
"""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mlloop.monitoring.label_files import label_line
from mlloop.monitoring.outcome_cells import OutcomeCells
from mlloop.monitoring.outcome_index import IndexBuilder, label_index
from mlloop.monitoring.outcome_join import (
    LABEL_BYTES,
    ROW_BYTES,
    IndexSource,
    JoinedOutcomes,
    join_window,
    ranges_for,
)
from mlloop.monitoring.outcomes import LABEL, LabelLines, join_outcomes

START = datetime(2026, 11, 18, tzinfo=UTC)


def _rows(*rows: tuple[str | None, str | None, str | None, str | None, float]) -> pd.DataFrame:
    """Log rows: (request_id, prediction_id, client_id, timestamp, churn_probability) each."""
    return pd.DataFrame.from_records(
        rows, columns=["request_id", "prediction_id", "client_id", "timestamp", "churn_probability"]
    )


def _index(frame: pd.DataFrame, block_rows: int) -> pa.Table:
    """A log file's outcome index, built in blocks as summarize reads the file."""
    builder = IndexBuilder()
    for start in range(0, len(frame), block_rows):
        builder.add(frame.iloc[start : start + block_rows].reset_index(drop=True))
    return builder.table()


def _label_file(lines: list[bytes]) -> LabelLines:
    labels = LabelLines()
    labels.add(b"".join(line + b"\n" for line in lines))
    return labels


def _join(files: list[pd.DataFrame], label_files: list[list[bytes]], ranges: int) -> JoinedOutcomes:
    """The join of these files' indexes, with a memory budget that splits it into `ranges` key ranges."""
    indexes = [IndexSource.of(_index(frame, block_rows=97)) for frame in files]
    labels = [IndexSource.of(label_index(_label_file(lines))) for lines in label_files]
    rows, labelled = sum(source.rows for source in indexes), sum(source.rows for source in labels)
    budget = max(-(-(rows * ROW_BYTES + labelled * LABEL_BYTES) // ranges), 1)
    assert 1 << ranges_for(labelled, rows, budget) == ranges, "the budget splits the join as the test says"
    return join_window(indexes, labels, budget)


def _expected(files: list[pd.DataFrame], label_files: list[list[bytes]]) -> JoinedOutcomes:
    """What monitoring.outcomes joins on every row of the window at once (what `--exact` does)."""
    everything = LabelLines()
    for lines in label_files:
        everything.add(b"".join(line + b"\n" for line in lines))
    outcomes = join_outcomes(pd.concat(files, ignore_index=True), everything.labels())
    cells = OutcomeCells.of(outcomes.rows[LABEL].to_numpy(), outcomes.rows["churn_probability"].to_numpy())
    return JoinedOutcomes(cells, outcomes.labels, outcomes.unmatched_labels, outcomes.unreadable_label_lines)


def _plain(joined: JoinedOutcomes) -> tuple[list[tuple[bool, float, int]], int, int, int]:
    cells = joined.cells
    pairs = zip(cells.outcomes.tolist(), cells.probabilities.tolist(), cells.counts.tolist(), strict=True)
    return list(pairs), joined.labels, joined.unmatched_labels, joined.unreadable_label_lines


def _random_window(seed: int) -> tuple[list[pd.DataFrame], list[list[bytes]]]:
    """Three log files of rows of 60 clients, and three days of labels: by prediction_id and by client id,
    corrected within a day and on a later day, some for no row of the window, and an unreadable line.
    """
    rng = np.random.default_rng(seed)
    files, row_ids = [], []
    for day in range(3):
        rows = []
        for row in range(400):
            request = f"req-{day}-{row}"
            moment = START + timedelta(days=day, minutes=int(rng.integers(0, 600)))
            timestamp = None if rng.random() < 0.02 else moment.isoformat()  # unreadable: the oldest
            client = None if rng.random() < 0.1 else f"C-{rng.integers(0, 60)}"
            logged_id = None if rng.random() < 0.1 else f"{request}-0"  # an old line: the id is its position
            rows.append((request, logged_id, client, timestamp, float(rng.integers(0, 40)) / 40))
            row_ids.append(f"{request}-0")
        files.append(_rows(*rows))
    label_files = []
    for _ in range(3):
        lines = [label_line(bool(rng.random() < 0.3), row_id=str(rng.choice(row_ids))) for _ in range(300)]
        lines += [label_line(bool(rng.random() < 0.3), client_id=f"C-{rng.integers(0, 70)}") for _ in range(40)]
        lines += [label_line(True, row_id=f"gone-{rng.integers(0, 1000)}-0") for _ in range(20)]
        lines.append(b"not json")
        label_files.append([lines[position] for position in rng.permutation(len(lines))])
    return files, label_files


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("ranges", [1, 2, 8, 64])
def test_a_join_split_into_key_ranges_gives_the_join_of_every_row_at_once(seed: int, ranges: int) -> None:
    files, label_files = _random_window(seed)

    joined = _join(files, label_files, ranges)

    expected = _expected(files, label_files)
    assert _plain(joined) == _plain(expected), f"{ranges} key ranges join as monitoring.outcomes does"
    assert expected.cells.rows > 300, "the window joins many rows"
    assert expected.unmatched_labels > 0, "and has labels for no row of it"


@pytest.mark.parametrize("ranges", [1, 16])
def test_the_latest_label_of_an_id_wins_across_days_and_within_a_day(ranges: int) -> None:
    # given: one row and one client, each labelled on three days, corrected within the last
    files = [_rows(("req-1", "req-1-0", None, "2026-11-18T10:00:00+00:00", 0.25))]
    files.append(_rows(("req-2", "req-2-0", "C-1", "2026-11-19T10:00:00+00:00", 0.75)))
    label_files = [
        [label_line(True, row_id="req-1-0"), label_line(True, client_id="C-1")],
        [label_line(False, row_id="req-1-0"), label_line(False, client_id="C-1")],
        [label_line(True, row_id="req-1-0"), label_line(False, row_id="req-1-0"), label_line(True, client_id="C-1")],
    ]

    joined = _join(files, label_files, ranges)

    assert _plain(joined) == ([(False, 0.25, 1), (True, 0.75, 1)], 2, 0, 0), "the last label of each id"


@pytest.mark.parametrize("ranges", [1, 16])
def test_a_clients_label_joins_its_latest_row_across_files_unless_a_prediction_id_label_took_it(ranges: int) -> None:
    # given: client C-1's rows in two files, the later file's row logged earlier; C-2's latest row labelled by id
    files = [
        _rows(
            ("req-1", "req-1-0", "C-1", "2026-11-19T18:00:00+00:00", 0.9),
            ("req-2", "req-2-0", "C-2", "2026-11-19T09:00:00+00:00", 0.2),
        ),
        _rows(
            ("req-3", "req-3-0", "C-1", "2026-11-19T09:00:00+00:00", 0.1),
            ("req-4", "req-4-0", "C-2", "2026-11-19T10:00:00+00:00", 0.4),
            ("req-5", "req-5-0", "C-3", None, 0.6),  # an unreadable timestamp: the oldest of its client
            ("req-6", "req-6-0", "C-3", "2026-11-19T08:00:00+00:00", 0.7),
        ),
    ]
    label_files = [
        [label_line(True, client_id="C-1"), label_line(True, client_id="C-2")],
        [label_line(False, row_id="req-4-0"), label_line(False, client_id="C-3")],
    ]

    joined = _join(files, label_files, ranges)

    # then: C-1 on its 18:00 row, C-2's label matched but its row keeps its id's label, C-3 on its readable row
    assert _plain(joined) == ([(False, 0.4, 1), (False, 0.7, 1), (True, 0.9, 1)], 4, 0, 0)


def test_no_labels_and_no_rows_join_nothing() -> None:
    assert _plain(_join([], [], 1)) == ([], 0, 0, 0)
    assert _plain(_join([], [[label_line(True, row_id="req-1-0"), b"{}"]], 1)) == ([], 1, 1, 1)


def test_the_budget_sets_how_many_key_ranges_the_join_is_split_into() -> None:
    assert ranges_for(0, 0, 1 << 20) == 0, "nothing to join: one range"
    assert ranges_for(1_000, 1_000, 1 << 28) == 0, "a small window: one range"
    bits = ranges_for(70_000_000, 70_000_000, 256 << 20)
    assert ranges_for(140_000_000, 140_000_000, 256 << 20) == bits + 1, "twice the labels and rows: twice the ranges"
    assert ranges_for(70_000_000, 70_000_000, 512 << 20) == bits - 1, "twice the budget: half the ranges"
