"""Whether GitHub would start a workflow for an event: its `on:` event, branch and path filters.

act runs whatever it is given, so the harness decides this part the way GitHub does before it
runs act; a workflow that GitHub would not start reports nothing, and a required check then waits.
"""

import re
from pathlib import Path
from typing import Any

import yaml


def _pattern(glob: str) -> re.Pattern[str]:
    """GitHub's filter globs: `**` crosses directories, `*` does not, `?` is one character."""
    parts = re.split(r"(\*\*/?|\*|\?)", glob)
    translated = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(translated.get(part, re.escape(part)) for part in parts))


def _matches(patterns: list[str], names: list[str]) -> list[str]:
    """The names matched by the patterns, where a `!pattern` excludes again, in order (GitHub's rule)."""
    return [
        name
        for name in names
        if [not pattern.startswith("!") for pattern in patterns if _pattern(pattern.lstrip("!")).fullmatch(name)][-1:]
        == [True]
    ]


def _filters(workflow: Path, event_name: str) -> dict[str, Any] | None:
    document = yaml.safe_load(workflow.read_text())
    on = document.get("on", document.get(True))  # YAML 1.1 reads the bare key `on` as true
    if isinstance(on, str):
        on = {on: None}
    elif isinstance(on, list):
        on = dict.fromkeys(on)
    if event_name not in on:
        return None
    return on[event_name] or {}


def starts(workflow: Path, event_name: str, branch: str, changed: list[str]) -> bool:
    """Whether GitHub starts `workflow` for the event on `branch` (a pull request's base) changing `changed`."""
    filters = _filters(workflow, event_name)
    if filters is None:
        return False
    if "branches" in filters and not _matches(filters["branches"], [branch]):
        return False
    if "branches-ignore" in filters and _matches(filters["branches-ignore"], [branch]):
        return False
    if "paths" in filters and not _matches(filters["paths"], changed):
        return False
    return not ("paths-ignore" in filters and len(_matches(filters["paths-ignore"], changed)) == len(changed))
