"""Keep one GitHub issue per alert in step with the latest drift check, through the `gh` CLI.

Each alert status (monitoring.status.ALERTS: stale, contract_breach, degraded, drift) has its own
label, and at most one open issue under it. The check's status alone decides: an alert opens its
issue, or updates the one already open (never a second one) and comments, so whoever watches it is
paged again; the alerts that status shows no longer hold (`resolved_by`) have their issues closed,
saying why; any other issue is left alone. GitHub Actions provides `gh` and its token.
"""

import json
from pathlib import Path

from mlloop.config import Status
from mlloop.monitoring.drift_result import DriftReportFiles, DriftResult, read_result
from mlloop.monitoring.github import gh
from mlloop.monitoring.status import ALERTS, resolved_by

TITLE_CHARACTERS = 250
"""GitHub refuses an issue title longer than 256 characters."""


def _open_issue(label: str) -> str | None:
    """The number of the open issue under this label, if any."""
    listed = json.loads(gh("issue", "list", "--label", label, "--state", "open", "--json", "number"))
    return str(listed[0]["number"]) if listed else None


def _raise(result: DriftResult, body: Path) -> str:
    """Open the status's issue, or update and comment on the one already open."""
    alert = ALERTS[result.status]
    summary = "; ".join(result.reasons)
    number = _open_issue(alert.label)
    if number is None:
        gh("label", "create", alert.label, "--force", "--color", alert.color, "--description", alert.description)
        title = f"{alert.title}: {summary}"[:TITLE_CHARACTERS]
        url = gh("issue", "create", "--title", title, "--label", alert.label, "--body-file", str(body)).strip()
        return f"{result.status}: opened {url}"
    gh("issue", "edit", number, "--body-file", str(body))
    gh("issue", "comment", number, "--body", f"{alert.ongoing} ({result.window.end}): {summary}")
    return f"{result.status}: updated issue #{number}"


def _close(kind: Status, result: DriftResult) -> str | None:
    """Close the open issue of an alert that no longer holds, naming the check that showed it."""
    number = _open_issue(ALERTS[kind].label)
    if number is None:
        return None
    comment = f"No longer {kind}: the check of {result.window.end} found {result.status} ({'; '.join(result.reasons)})."
    gh("issue", "close", number, "--comment", comment)
    return f"{kind}: closed issue #{number}"


def sync_issues(report_directory: Path) -> list[str]:
    """Open, update or close the alerts' issues to match the last check's status; say what was done."""
    result = read_result(report_directory)
    done = [message for kind in resolved_by(result.status) if (message := _close(kind, result))]
    if result.status in ALERTS:
        done.append(_raise(result, DriftReportFiles(report_directory).markdown))
    return done or [f"{result.status}: every issue is left as it is"]
