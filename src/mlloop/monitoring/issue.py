"""Keep one GitHub issue labelled `drift` in step with the latest drift check, through the `gh` CLI.

Drift opens the issue, or updates the one already open (never a second one) and comments, so
whoever watches it is paged again; a later check without drift closes it; insufficient data
leaves it alone, since it says nothing either way. GitHub Actions provides `gh` and its token.
"""

import json
from pathlib import Path

from mlloop.monitoring.drift_result import DriftReportFiles, read_result
from mlloop.monitoring.github import gh

LABEL = "drift"


def sync_issue(report_directory: Path) -> str:
    """Open, update or close the drift issue to match the last check's result; say what was done."""
    result = read_result(report_directory)
    body = DriftReportFiles(report_directory).markdown
    open_issues = json.loads(gh("issue", "list", "--label", LABEL, "--state", "open", "--json", "number"))
    number = str(open_issues[0]["number"]) if open_issues else None
    summary = "; ".join(result.reasons)
    if result.status == "drift":
        if number is None:
            gh("label", "create", LABEL, "--force", "--color", "D93F0B", "--description", "the drift check found drift")
            title = f"Drift in production data: {summary}"[:250]
            url = gh("issue", "create", "--title", title, "--label", LABEL, "--body-file", str(body)).strip()
            return f"opened {url}"
        gh("issue", "edit", number, "--body-file", str(body))
        gh("issue", "comment", number, "--body", f"Still drifting ({result.window.last_day}): {summary}")
        return f"updated issue #{number}"
    if result.status == "no_drift" and number is not None:
        gh("issue", "close", number, "--comment", f"No drift in the window ending {result.window.last_day}.")
        return f"closed issue #{number}"
    return f"{result.status}: the drift issue is left as it is"
