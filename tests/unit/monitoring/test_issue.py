"""One GitHub issue labelled drift follows the drift checks: opened on drift, updated (never
duplicated) while drift lasts, closed when a check finds none, untouched on insufficient data.
It reads the last check's result back from its report directory and posts drift.md as the body.
A stand-in `gh` on the PATH records every call."""

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from mlloop.errors import GitHubError, SourceError
from mlloop.monitoring.drift_result import DriftReportFiles, DriftResult, Status, result_json
from mlloop.monitoring.issue import sync_issue

FAKE_GH = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["GH_CALLS"], "a") as calls:
    calls.write(json.dumps(sys.argv[1:]) + "\\n")
if os.environ.get("GH_FAILS"):
    sys.exit("HTTP 401: Bad credentials")
if sys.argv[1:3] == ["issue", "list"]:
    print(os.environ["GH_OPEN_ISSUES"])
elif sys.argv[1:3] == ["issue", "create"]:
    print("https://github.com/owner/repo/issues/7")
"""


@pytest.fixture
def gh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in gh answering with no open drift issue; returns the file of recorded calls."""
    tools = tmp_path / "bin"
    tools.mkdir()
    program = tools / "gh"
    program.write_text(FAKE_GH)
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    calls = tmp_path / "calls.jsonl"
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")
    monkeypatch.setenv("GH_CALLS", str(calls))
    monkeypatch.setenv("GH_OPEN_ISSUES", "[]")
    return calls


@pytest.fixture
def report(tmp_path: Path, drift_result: DriftResult) -> Callable[[Status], Path]:
    """Writes a drift report with the given status, as the check writes it; returns its directory."""

    def write(status: Status) -> Path:
        files = DriftReportFiles(tmp_path / "drift")
        files.directory.mkdir(exist_ok=True)
        files.result.write_text(result_json(drift_result.model_copy(update={"status": status})))
        files.markdown.write_text(f"# Drift check: **{status}**\n")
        return files.directory

    return write


def _calls(calls: Path) -> list[list[str]]:
    return [json.loads(line)[:2] for line in calls.read_text().splitlines()] if calls.exists() else []


def test_drift_with_no_open_issue_opens_one_labelled_drift_with_drift_md_as_body(
    gh: Path, report: Callable[[Status], Path]
) -> None:
    directory = report("drift")

    message = sync_issue(directory)

    assert _calls(gh) == [["issue", "list"], ["label", "create"], ["issue", "create"]]
    create = json.loads(gh.read_text().splitlines()[-1])
    assert create[create.index("--label") + 1] == "drift"
    assert create[create.index("--title") + 1] == (
        "Drift in production data: key features drifted: monthly_charges, payment_method"
    )
    assert create[create.index("--body-file") + 1] == str(DriftReportFiles(directory).markdown)
    assert message == "opened https://github.com/owner/repo/issues/7"


def test_drift_with_an_open_issue_updates_it_and_never_opens_a_second(
    gh: Path, report: Callable[[Status], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GH_OPEN_ISSUES", '[{"number": 12}]')

    message = sync_issue(report("drift"))

    assert _calls(gh) == [["issue", "list"], ["issue", "edit"], ["issue", "comment"]]
    assert all(json.loads(line)[2] == "12" for line in gh.read_text().splitlines()[1:])
    comment = json.loads(gh.read_text().splitlines()[-1])
    assert comment[-1] == "Still drifting (2026-11-24): key features drifted: monthly_charges, payment_method"
    assert message == "updated issue #12"


def test_no_drift_closes_the_open_issue_naming_the_windows_last_day(
    gh: Path, report: Callable[[Status], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GH_OPEN_ISSUES", '[{"number": 12}]')

    assert sync_issue(report("no_drift")) == "closed issue #12"
    assert _calls(gh) == [["issue", "list"], ["issue", "close"]]
    assert json.loads(gh.read_text().splitlines()[-1])[-1] == "No drift in the window ending 2026-11-24."


@pytest.mark.parametrize(("status", "open_issues"), [("no_drift", "[]"), ("insufficient_data", '[{"number": 12}]')])
def test_nothing_changes_without_drift_to_report_or_an_issue_to_close(
    gh: Path, report: Callable[[Status], Path], monkeypatch: pytest.MonkeyPatch, status: Status, open_issues: str
) -> None:
    monkeypatch.setenv("GH_OPEN_ISSUES", open_issues)

    assert sync_issue(report(status)) == f"{status}: the drift issue is left as it is"
    assert _calls(gh) == [["issue", "list"]]


@pytest.mark.usefixtures("gh")
def test_a_failing_gh_is_a_clear_error(report: Callable[[Status], Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GH_FAILS", "1")

    with pytest.raises(GitHubError, match="gh issue list failed: HTTP 401: Bad credentials"):
        sync_issue(report("drift"))


def test_no_drift_report_is_a_clear_error_before_gh_is_called(gh: Path, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="run `make drift` first"):
        sync_issue(tmp_path / "drift")

    assert _calls(gh) == []
