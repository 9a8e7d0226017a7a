"""One GitHub issue per alert status follows the drift checks. The check's status alone decides: an
alert status opens its issue under its own label, or updates the open one (never a second) and
comments; the alerts that status shows no longer hold have their issues closed, saying why; the
others are left alone. It reads the last check's result back from its report directory and posts
drift.md as the body. A stand-in `gh` on the PATH records every call and answers `issue list` per label."""

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from mlloop.errors import GitHubError, SourceError
from mlloop.monitoring.drift_result import DriftReportFiles
from mlloop.monitoring.issue import sync_issues
from mlloop.monitoring.status import ALERTS, Status

FAKE_GH = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["GH_CALLS"], "a") as calls:
    calls.write(json.dumps(sys.argv[1:]) + "\\n")
if os.environ.get("GH_FAILS"):
    sys.exit("HTTP 401: Bad credentials")
if sys.argv[1:3] == ["issue", "list"]:
    label = sys.argv[sys.argv.index("--label") + 1]
    print(json.dumps(json.loads(os.environ["GH_OPEN_ISSUES"]).get(label, [])))
elif sys.argv[1:3] == ["issue", "create"]:
    print("https://github.com/owner/repo/issues/7")
"""
REASONS = "key features drifted: monthly_charges, payment_method"


@pytest.fixture
def gh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in gh answering with no open issue under any label; returns the file of recorded calls."""
    tools = tmp_path / "bin"
    tools.mkdir()
    program = tools / "gh"
    program.write_text(FAKE_GH)
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    calls = tmp_path / "calls.jsonl"
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")
    monkeypatch.setenv("GH_CALLS", str(calls))
    monkeypatch.setenv("GH_OPEN_ISSUES", "{}")
    return calls


def _open_issues(monkeypatch: pytest.MonkeyPatch, numbers: dict[Status, int]) -> None:
    """The open issue of each alert (by status) that gh lists."""
    labels = {ALERTS[status].label: [{"number": number}] for status, number in numbers.items()}
    monkeypatch.setenv("GH_OPEN_ISSUES", json.dumps(labels))


def _calls(calls: Path) -> list[list[str]]:
    return [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []


def _listed_labels(calls: Path) -> list[str]:
    return [call[call.index("--label") + 1] for call in _calls(calls) if call[:2] == ["issue", "list"]]


def _acting(calls: Path) -> list[list[str]]:
    """The calls that change something (every call but `issue list`), as their first two words and the issue."""
    acting = [call for call in _calls(calls) if call[:2] != ["issue", "list"]]
    return [call[:3] if call[1] in ("edit", "comment", "close") else call[:2] for call in acting]


def test_drift_with_no_open_issue_opens_one_labelled_drift_with_drift_md_as_body(
    gh: Path, drift_report: Callable[[Status], Path]
) -> None:
    directory = drift_report("drift")

    messages = sync_issues(directory)

    assert _acting(gh) == [["label", "create"], ["issue", "create"]]
    create = _calls(gh)[-1]
    assert create[create.index("--label") + 1] == "drift", "the label earlier versions used, kept"
    assert create[create.index("--title") + 1] == f"Drift in production data: {REASONS}"
    assert create[create.index("--body-file") + 1] == str(DriftReportFiles(directory).markdown)
    assert messages == ["drift: opened https://github.com/owner/repo/issues/7"]


@pytest.mark.parametrize("status", list(ALERTS))
def test_each_alert_status_opens_an_issue_under_its_own_label_and_title(
    gh: Path, drift_report: Callable[[Status], Path], status: Status
) -> None:
    sync_issues(drift_report(status))

    label_create, create = _calls(gh)[-2:]
    alert = ALERTS[status]
    assert label_create[:3] == ["label", "create", alert.label]
    assert label_create[label_create.index("--description") + 1] == alert.description
    assert create[create.index("--label") + 1] == alert.label
    assert create[create.index("--title") + 1] == f"{alert.title}: {REASONS}"


def test_the_alert_labels_are_distinct_and_none_is_the_stale_bots_own() -> None:
    labels = [alert.label for alert in ALERTS.values()]

    assert len(set(labels)) == len(labels)
    assert "stale" not in labels, "actions/stale marks inactive issues `stale`: ours must not be mistaken for them"


def test_an_alert_with_an_open_issue_updates_it_and_never_opens_a_second(
    gh: Path, drift_report: Callable[[Status], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _open_issues(monkeypatch, {"drift": 12})

    messages = sync_issues(drift_report("drift"))

    assert _acting(gh) == [["issue", "edit", "12"], ["issue", "comment", "12"]]
    assert _calls(gh)[-1][-1] == f"Still drifting (2026-11-24): {REASONS}"
    assert messages == ["drift: updated issue #12"]


def test_no_drift_closes_every_open_alert_issue_naming_the_check(
    gh: Path, drift_report: Callable[[Status], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _open_issues(monkeypatch, {"stale": 3, "contract_breach": 5, "drift": 12})

    messages = sync_issues(drift_report("no_drift"))

    assert _listed_labels(gh) == [alert.label for alert in ALERTS.values()]
    assert _acting(gh) == [["issue", "close", "3"], ["issue", "close", "5"], ["issue", "close", "12"]]
    assert _calls(gh)[-1][-1] == f"No longer drift: the check of 2026-11-24 found no_drift ({REASONS})."
    assert messages == ["stale: closed issue #3", "contract_breach: closed issue #5", "drift: closed issue #12"]


def test_an_alert_closes_the_issues_of_alerts_ranked_above_it_and_leaves_those_below(
    gh: Path, drift_report: Callable[[Status], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an open stale issue and an open drift issue
    _open_issues(monkeypatch, {"stale": 3, "drift": 12})

    # When the check finds degraded outcomes
    messages = sync_issues(drift_report("degraded"))

    # Then the log is live again (stale closed), drift was not judged past degraded (left), degraded opens
    assert _listed_labels(gh) == ["stale-log", "contract-breach", "degraded"]
    assert _acting(gh) == [["issue", "close", "3"], ["label", "create"], ["issue", "create"]]
    assert messages == ["stale: closed issue #3", "degraded: opened https://github.com/owner/repo/issues/7"]


def test_stale_leaves_every_other_issue_alone(
    gh: Path, drift_report: Callable[[Status], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _open_issues(monkeypatch, {"contract_breach": 5, "degraded": 8, "drift": 12})

    sync_issues(drift_report("stale"))

    assert _listed_labels(gh) == ["stale-log"]
    assert _acting(gh) == [["label", "create"], ["issue", "create"]]


def test_insufficient_data_closes_only_the_stale_issue(
    gh: Path, drift_report: Callable[[Status], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _open_issues(monkeypatch, {"stale": 3, "drift": 12})

    messages = sync_issues(drift_report("insufficient_data"))

    assert _listed_labels(gh) == ["stale-log"]
    assert _acting(gh) == [["issue", "close", "3"]]
    assert messages == ["stale: closed issue #3"]


def test_nothing_to_open_or_close_says_so(gh: Path, drift_report: Callable[[Status], Path]) -> None:
    assert sync_issues(drift_report("no_drift")) == ["no_drift: every issue is left as it is"]
    assert _acting(gh) == []


@pytest.mark.usefixtures("gh")
def test_a_failing_gh_is_a_clear_error(drift_report: Callable[[Status], Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GH_FAILS", "1")

    with pytest.raises(GitHubError, match="gh issue list failed: HTTP 401: Bad credentials"):
        sync_issues(drift_report("drift"))


def test_no_drift_report_is_a_clear_error_before_gh_is_called(gh: Path, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="run `make drift` first"):
        sync_issues(tmp_path / "drift")

    assert _calls(gh) == []
