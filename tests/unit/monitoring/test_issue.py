"""One GitHub issue labelled drift follows the drift checks: opened on drift, updated (never
duplicated) while drift lasts, closed when a check finds none, untouched on insufficient data.
It reads the last check's result back from its report directory and posts drift.md as the body.
A scripted `gh` on the PATH (tests/stand_ins/scripted_gh.py) records every call."""

from collections.abc import Callable
from pathlib import Path

import pytest
from tests.stand_ins.scripted_gh import ISSUE_URL, ScriptedGh

from mlloop.errors import GitHubError, SourceError
from mlloop.monitoring.drift_result import DriftReportFiles, Status
from mlloop.monitoring.issue import sync_issue


def _option(call: list[str], name: str) -> str:
    return call[call.index(name) + 1]


def test_drift_with_no_open_issue_opens_one_labelled_drift_with_drift_md_as_body(
    gh: ScriptedGh, drift_report: Callable[[Status], Path]
) -> None:
    directory = drift_report("drift")

    message = sync_issue(directory)

    assert gh.commands() == ["issue list", "label create", "issue create"]
    create = gh.calls[-1]
    assert _option(create, "--label") == "drift"
    assert _option(create, "--title") == (
        "Drift in production data: key features drifted: monthly_charges, payment_method"
    )
    assert _option(create, "--body-file") == str(DriftReportFiles(directory).markdown)
    assert message == f"opened {ISSUE_URL}"


def test_drift_with_an_open_issue_updates_it_and_never_opens_a_second(
    gh: ScriptedGh, drift_report: Callable[[Status], Path]
) -> None:
    gh.answer("issue list", stdout='[{"number": 12}]')

    message = sync_issue(drift_report("drift"))

    assert gh.commands() == ["issue list", "issue edit", "issue comment"]
    assert all(call[2] == "12" for call in gh.calls[1:])
    assert gh.calls[-1][-1] == "Still drifting (2026-11-24): key features drifted: monthly_charges, payment_method"
    assert message == "updated issue #12"


def test_no_drift_closes_the_open_issue_naming_the_windows_last_day(
    gh: ScriptedGh, drift_report: Callable[[Status], Path]
) -> None:
    gh.answer("issue list", stdout='[{"number": 12}]')

    assert sync_issue(drift_report("no_drift")) == "closed issue #12"
    assert gh.commands() == ["issue list", "issue close"]
    assert gh.calls[-1][-1] == "No drift in the window ending 2026-11-24."


@pytest.mark.parametrize(("status", "open_issues"), [("no_drift", "[]"), ("insufficient_data", '[{"number": 12}]')])
def test_nothing_changes_without_drift_to_report_or_an_issue_to_close(
    gh: ScriptedGh, drift_report: Callable[[Status], Path], status: Status, open_issues: str
) -> None:
    gh.answer("issue list", stdout=open_issues)

    assert sync_issue(drift_report(status)) == f"{status}: the drift issue is left as it is"
    assert gh.commands() == ["issue list"]


def test_a_failing_gh_is_a_clear_error(gh: ScriptedGh, drift_report: Callable[[Status], Path]) -> None:
    gh.answer("issue list", stderr="HTTP 401: Bad credentials\n", exit=1)

    with pytest.raises(GitHubError, match="gh issue list failed: HTTP 401: Bad credentials"):
        sync_issue(drift_report("drift"))


def test_no_drift_report_is_a_clear_error_before_gh_is_called(gh: ScriptedGh, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="run `make drift` first"):
        sync_issue(tmp_path / "drift")

    assert gh.calls == []
