"""Files named by the UTC day they hold (the inference log's day files, the delayed labels' files).

Rotation is by name, so nothing is ever renamed under a reader, and a reader finds a file's day in
its name alone, in any folder of any store.
"""

import re
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path


@dataclass(frozen=True)
class DayFileName:
    """A day file's name, declared once as a template holding `{day}`: built, matched and parsed from it."""

    template: str

    def path(self, directory: Path, day: date) -> Path:
        """The file of `day` in `directory`."""
        return directory / self.template.format(day=f"{day:%Y-%m-%d}")

    @property
    def glob(self) -> str:
        """A glob pattern matching every day's file."""
        return self.template.format(day="*")

    @cached_property
    def _day_in_name(self) -> re.Pattern[str]:
        prefix, _, suffix = self.template.partition("{day}")
        return re.compile(rf"{re.escape(prefix)}(\d{{4}}-\d{{2}}-\d{{2}}){re.escape(suffix)}$")

    def day_of(self, path: str) -> date | None:
        """The UTC day a file holds, from its name; None for any other file, or a day the calendar lacks."""
        match = self._day_in_name.search(path)
        try:
            return date.fromisoformat(match.group(1)) if match else None
        except ValueError:
            return None
