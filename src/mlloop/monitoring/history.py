"""The drift checks' status history: one line per day, kept with the published reports.

`mlloop drift-history` reads `<reports URL>/history.jsonl` (none yet: an empty history), sets the
line of the last check's day (a second check on one day replaces the first), and writes the whole
history, and its latest days rendered as a table, into the report directory. So the job summary
shows it, and `mlloop publish-drift` keeps it: a copy in the day's folder, and `<URL>/history.jsonl`
replaced. A line of the history that cannot be read is counted and left out rather than failing:
the history serves its reader, and a broken line must not keep today's status from its issue.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import fsspec
from botocore.exceptions import BotoCoreError
from pydantic import BaseModel, ConfigDict, ValidationError

from mlloop.config import Status
from mlloop.errors import SourceError
from mlloop.monitoring.drift_markdown import table_cell
from mlloop.monitoring.drift_result import DriftReportFiles, DriftResult, read_result
from mlloop.storage.files import atomic_outputs
from mlloop.storage.store_errors import diagnose


class DayStatus(BaseModel):
    """One day's line: the check's day (the end of its window), its status and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    day: date
    status: Status
    reasons: list[str]


@dataclass(frozen=True)
class History:
    """Every day's line, oldest first, and how many lines of the kept file could not be read."""

    days: list[DayStatus]
    unreadable_lines: int = 0


def history_url(base_url: str) -> str:
    """Where the history is kept: beside the day folders of the published reports."""
    return f"{base_url.rstrip('/')}/{DriftReportFiles(Path()).history.name}"


def parse_history(text: str) -> History:
    """The lines of a history file; one that is not a day's status is counted, not fatal."""
    days: dict[date, DayStatus] = {}
    unreadable = 0
    for line in filter(str.strip, text.splitlines()):
        try:
            entry = DayStatus.model_validate_json(line)
        except ValidationError:
            unreadable += 1
            continue
        days[entry.day] = entry
    return History(sorted(days.values(), key=lambda entry: entry.day), unreadable)


def read_history(base_url: str) -> History:
    """The history kept under the reports' URL; empty before the first one is published."""
    url = history_url(base_url)
    try:
        filesystem, path = fsspec.core.url_to_fs(url)
        if not filesystem.exists(path):
            return History([])
        with filesystem.open(path, "rb") as stream:
            text = stream.read().decode(errors="replace")
    except (OSError, BotoCoreError) as error:
        raise SourceError(
            f"cannot read the status history: {diagnose(url, str(error)) or f'{url}: {error}'}"
        ) from error
    return parse_history(text)


def with_check(history: History, result: DriftResult) -> History:
    """The history with the check's day set to its status, replacing an earlier check of that day."""
    today = DayStatus(day=result.window.end, status=result.status, reasons=result.reasons)
    kept = [entry for entry in history.days if entry.day != today.day]
    return History(sorted([*kept, today], key=lambda entry: entry.day), history.unreadable_lines)


def history_text(history: History) -> str:
    """history.jsonl: one JSON line per day, oldest first."""
    return "".join(f"{entry.model_dump_json()}\n" for entry in history.days)


def render_history(history: History, days: int) -> str:
    """history.md: the statuses of the latest `days` days, newest first."""
    since = history.days[-1].day - timedelta(days=days) if history.days else None
    shown = [entry for entry in reversed(history.days) if since is not None and entry.day > since]
    lines = [
        f"## Status history (the last {days} days)",
        "",
        "| day | status | reasons |",
        "|---|---|---|",
        *(f"| {entry.day} | {entry.status} | {table_cell('; '.join(entry.reasons))} |" for entry in shown),
    ]
    if history.unreadable_lines:
        lines += ["", f"{history.unreadable_lines} lines of the kept history could not be read and are left out."]
    return "\n".join(lines) + "\n"


def write_history(history: History, files: DriftReportFiles, days: int) -> None:
    """history.jsonl and history.md in the report directory, both or neither."""
    with atomic_outputs(files.history, files.history_markdown) as (text_path, markdown_path):
        text_path.write_text(history_text(history))
        markdown_path.write_text(render_history(history, days))


def record_check(report_directory: Path, base_url: str | None, days: int) -> str:
    """Add the last check to the history kept under `base_url` (none: a history of this check alone), write it."""
    result = read_result(report_directory)
    history = with_check(read_history(base_url) if base_url else History([]), result)
    files = DriftReportFiles(report_directory)
    write_history(history, files, days)
    return f"{result.window.end}: {result.status} added to {files.history} ({len(history.days)} days in all)"
