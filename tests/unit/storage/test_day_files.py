"""A day file's name is declared once as a template: the file of a day is built from it, and its day is
read back from the name alone, in any folder of any store; other files and days the calendar lacks have none."""

from datetime import date
from fnmatch import fnmatch
from pathlib import Path

import pytest

from mlloop.storage.day_files import DayFileName

NAME = DayFileName("events-{day}.jsonl")


def test_a_days_file_is_named_by_its_day_and_its_day_read_back_from_any_folder(tmp_path: Path) -> None:
    day = date(2026, 11, 24)

    path = NAME.path(tmp_path, day)

    assert path == tmp_path / "events-2026-11-24.jsonl"
    assert NAME.day_of(path.as_posix()) == day
    assert NAME.day_of(f"s3://bucket/pod-a/{path.name}") == day
    assert fnmatch(path.name, NAME.glob)


@pytest.mark.parametrize(
    "name",
    ["events-2026-02-30.jsonl", "events-2026-11-24.jsonl.tmp", "other-2026-11-24.jsonl", "events-latest.jsonl"],
)
def test_other_files_and_days_the_calendar_lacks_have_no_day(name: str) -> None:
    assert NAME.day_of(f"logs/{name}") is None
