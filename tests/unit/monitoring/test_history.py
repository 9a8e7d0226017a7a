"""The status history: one line per day in `<reports URL>/history.jsonl`, the last check's day set
(a second check that day replaces the first), written beside the report with its latest days rendered
for the job summary. A line of the kept history that cannot be read is counted and left out, never
fatal; no history yet is an empty one."""

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import fsspec

from mlloop.config import Status
from mlloop.monitoring.drift_result import DriftReportFiles
from mlloop.monitoring.history import DayStatus, History, parse_history, record_check, render_history


def _kept(store: str, *entries: DayStatus | str) -> None:
    text = "".join(f"{entry if isinstance(entry, str) else entry.model_dump_json()}\n" for entry in entries)
    fsspec.filesystem("memory").pipe(f"{fsspec.core.url_to_fs(store)[1]}/history.jsonl", text.encode())


def _day(day: int, status: Status, reason: str = "a reason") -> DayStatus:
    return DayStatus(day=date(2026, 11, day), status=status, reasons=[reason])


def test_the_checks_day_is_added_to_the_kept_history(store: str, drift_report: Callable[[Status], Path]) -> None:
    _kept(store, _day(22, "no_drift"), _day(23, "stale"))
    directory = drift_report("drift")

    message = record_check(directory, store, days=30)

    files = DriftReportFiles(directory)
    written = [json.loads(line) for line in files.history.read_text().splitlines()]
    assert [(line["day"], line["status"]) for line in written] == [
        ("2026-11-22", "no_drift"),
        ("2026-11-23", "stale"),
        ("2026-11-24", "drift"),
    ]
    assert written[-1]["reasons"] == ["key features drifted: monthly_charges, payment_method"]
    assert message == f"2026-11-24: drift added to {files.history} (3 days in all)"


def test_a_second_check_on_the_same_day_replaces_the_first(store: str, drift_report: Callable[[Status], Path]) -> None:
    _kept(store, _day(23, "no_drift"), _day(24, "stale"))
    directory = drift_report("drift")

    record_check(directory, store, days=30)

    history = parse_history(DriftReportFiles(directory).history.read_text())
    assert [(entry.day.day, entry.status) for entry in history.days] == [(23, "no_drift"), (24, "drift")]


def test_without_a_kept_history_it_is_this_check_alone(store: str, drift_report: Callable[[Status], Path]) -> None:
    directory = drift_report("stale")

    record_check(directory, store, days=30)
    record_check(directory, None, days=30)

    assert len(DriftReportFiles(directory).history.read_text().splitlines()) == 1


def test_history_md_shows_the_latest_days_newest_first() -> None:
    history = History([_day(1, "no_drift"), _day(20, "stale"), _day(24, "drift", "key | feature\nmoved")])

    markdown = render_history(history, days=7)

    assert markdown.splitlines() == [
        "## Status history (the last 7 days)",
        "",
        "| day | status | reasons |",
        "|---|---|---|",
        "| 2026-11-24 | drift | key \\| feature moved |",
        "| 2026-11-20 | stale | a reason |",
    ]


def test_a_line_of_the_kept_history_that_cannot_be_read_is_counted_and_left_out(
    store: str, drift_report: Callable[[Status], Path]
) -> None:
    _kept(store, _day(22, "no_drift"), "not json", '{"day": "2026-11-23", "status": "perhaps", "reasons": []}')
    directory = drift_report("drift")

    record_check(directory, store, days=30)

    files = DriftReportFiles(directory)
    assert [json.loads(line)["day"] for line in files.history.read_text().splitlines()] == ["2026-11-22", "2026-11-24"]
    assert files.history_markdown.read_text().endswith(
        "\n2 lines of the kept history could not be read and are left out.\n"
    )


def test_an_empty_history_renders_an_empty_table() -> None:
    assert render_history(History([]), days=30).splitlines()[-1] == "|---|---|---|"
