"""One GitHub issue per alert status follows the drift checks. The check's status alone decides: an
alert status opens its issue under its own label, or updates the open one (never a second) and
comments; the alerts that status shows no longer hold have their issues closed, saying why; the
others are left alone. It reads the last check's result back from its report directory and posts
drift.md as the body. A scripted `gh` on the PATH (tests/stand_ins/scripted_gh.py) records every
call and answers `issue list` per label."""

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.stand_ins.scripted_gh import ISSUE_URL, ScriptedGh

from mlloop.config import Status
from mlloop.errors import GitHubError, SourceError
from mlloop.monitoring.drift_result import DriftReportFiles
from mlloop.monitoring.issue import sync_issues
from mlloop.monitoring.status import ALERTS

REASONS = "key features drifted: monthly_charges, payment_method"


def _open_issues(gh: ScriptedGh, numbers: dict[Status, int]) -> None:
    """The open issue of each alert (by status) that gh lists."""
    for status, number in numbers.items():
        gh.answer(f"issue list --label {ALERTS[status].label}", stdout=json.dumps([{"number": number}]))


def _listed_labels(gh: ScriptedGh) -> list[str]:
    return [call[call.index("--label") + 1] for call in gh.calls if call[:2] == ["issue", "list"]]


def _acting(gh: ScriptedGh) -> list[list[str]]:
    """The calls that change something (every call but `issue list`), as their first two words and the issue."""
    acting = [call for call in gh.calls if call[:2] != ["issue", "list"]]
    return [call[:3] if call[1] in ("edit", "comment", "close") else call[:2] for call in acting]


def test_drift_with_no_open_issue_opens_one_labelled_drift_with_drift_md_as_body(
    gh: ScriptedGh, drift_report: Callable[[Status], Path]
) -> None:
    directory = drift_report("drift")

    messages = sync_issues(directory)

    assert _acting(gh) == [["label", "create"], ["issue", "create"]]
    create = gh.calls[-1]
    assert create[create.index("--label") + 1] == "drift", "the label earlier versions used, kept"
    assert create[create.index("--title") + 1] == f"Drift in production data: {REASONS}"
    assert create[create.index("--body-file") + 1] == str(DriftReportFiles(directory).markdown)
    assert messages == [f"drift: opened {ISSUE_URL}"]


@pytest.mark.parametrize("status", list(ALERTS))
def test_each_alert_status_opens_an_issue_under_its_own_label_and_title(
    gh: ScriptedGh, drift_report: Callable[[Status], Path], status: Status
) -> None:
    sync_issues(drift_report(status))

    label_create, create = gh.calls[-2:]
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
    gh: ScriptedGh, drift_report: Callable[[Status], Path]
) -> None:
    _open_issues(gh, {"drift": 12})

    messages = sync_issues(drift_report("drift"))

    assert _acting(gh) == [["issue", "edit", "12"], ["issue", "comment", "12"]]
    assert gh.calls[-1][-1] == f"Still drifting (2026-11-24): {REASONS}"
    assert messages == ["drift: updated issue #12"]


def test_no_drift_closes_every_open_alert_issue_naming_the_check(
    gh: ScriptedGh, drift_report: Callable[[Status], Path]
) -> None:
    _open_issues(gh, {"stale": 3, "contract_breach": 5, "drift": 12})

    messages = sync_issues(drift_report("no_drift"))

    assert _listed_labels(gh) == [alert.label for alert in ALERTS.values()]
    assert _acting(gh) == [["issue", "close", "3"], ["issue", "close", "5"], ["issue", "close", "12"]]
    assert gh.calls[-1][-1] == f"No longer drift: the check of 2026-11-24 found no_drift ({REASONS})."
    assert messages == ["stale: closed issue #3", "contract_breach: closed issue #5", "drift: closed issue #12"]


def test_an_alert_closes_the_issues_of_alerts_ranked_above_it_and_leaves_those_below(
    gh: ScriptedGh, drift_report: Callable[[Status], Path]
) -> None:
    # Given an open stale issue and an open drift issue
    _open_issues(gh, {"stale": 3, "drift": 12})

    # When the check finds degraded outcomes
    messages = sync_issues(drift_report("degraded"))

    # Then the log is live again (stale closed), drift was not judged past degraded (left), degraded opens
    assert _listed_labels(gh) == ["stale-log", "contract-breach", "degraded"]
    assert _acting(gh) == [["issue", "close", "3"], ["label", "create"], ["issue", "create"]]
    assert messages == ["stale: closed issue #3", f"degraded: opened {ISSUE_URL}"]


def test_stale_leaves_every_other_issue_alone(gh: ScriptedGh, drift_report: Callable[[Status], Path]) -> None:
    _open_issues(gh, {"contract_breach": 5, "degraded": 8, "drift": 12})

    sync_issues(drift_report("stale"))

    assert _listed_labels(gh) == ["stale-log"]
    assert _acting(gh) == [["label", "create"], ["issue", "create"]]


def test_insufficient_data_closes_only_the_stale_issue(gh: ScriptedGh, drift_report: Callable[[Status], Path]) -> None:
    _open_issues(gh, {"stale": 3, "drift": 12})

    messages = sync_issues(drift_report("insufficient_data"))

    assert _listed_labels(gh) == ["stale-log"]
    assert _acting(gh) == [["issue", "close", "3"]]
    assert messages == ["stale: closed issue #3"]


def test_nothing_to_open_or_close_says_so(gh: ScriptedGh, drift_report: Callable[[Status], Path]) -> None:
    assert sync_issues(drift_report("no_drift")) == ["no_drift: every issue is left as it is"]
    assert _acting(gh) == []


def test_a_failing_gh_is_a_clear_error(gh: ScriptedGh, drift_report: Callable[[Status], Path]) -> None:
    gh.answer("issue list", stderr="HTTP 401: Bad credentials\n", exit=1)

    with pytest.raises(GitHubError, match="gh issue list failed: HTTP 401: Bad credentials"):
        sync_issues(drift_report("drift"))


def test_no_drift_report_is_a_clear_error_before_gh_is_called(gh: ScriptedGh, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="run `make drift` first"):
        sync_issues(tmp_path / "drift")

    assert gh.calls == []
