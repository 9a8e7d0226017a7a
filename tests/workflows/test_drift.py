"""drift.yml, run for real under act on its schedule: the check's status alone decides. One issue per
alert status under its own label, kept in step; retraining for drift and degraded at most once, never
for a silent log or broken data; the status history kept with the published reports. And retrain.yml,
as the check starts it: the retraining branch, its pull request, and the PR loop on it.

The traffic of each status is the first scenario params.yaml declares for it (tests/declared_scenarios.py),
over the columns of whatever table the project reads; a status it declares none for skips, naming it.
"""

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mlloop.config import ColumnShift, StopLogging, load_params
from tests.declared_scenarios import declared_scenario, shifts_of
from tests.workflows.harness import (
    PROJECT,
    REPOSITORY,
    SIMULATED_DAYS,
    Run,
    World,
    daily_drift_check,
    run_dispatched,
    simulate,
)
from tests.workflows.services.github_api import Dispatch

pytestmark = pytest.mark.workflows

PARAMS = load_params(PROJECT / "params.yaml")
"""The project's own, which main on the scenarios' origin holds: the scenarios simulated are declared there."""


def _issues(github: World, label: str, state: str) -> list[int]:
    return [issue.number for issue in github.api.issues.values() if label in issue.labels and issue.state == state]


def _retrainings(github: World) -> list[str]:
    return [dispatch.workflow for dispatch in github.api.dispatches if dispatch.workflow == "retrain.yml"]


def _text(path: Path) -> str:
    """A published file's text; empty when the check published none (its test then says so)."""
    return path.read_text() if path.is_file() else ""


@dataclass(frozen=True)
class DriftedThenClean:
    """Three daily checks on one repository: a drifted week, the same again, then a clean one."""

    github: World
    runs: tuple[Run, Run, Run]
    opened: list[int]  # the open drift issues after the first check
    still_open: list[int]  # and after the second
    reports: Path  # where each day's report is published, with the status history
    earlier: list[dict[str, Any]]  # the two earlier days the history held before
    history_after_first: str  # history.jsonl after the first check
    shown_after_first: str  # today's history.md after the first check
    today: date


@pytest.fixture(scope="class")
def drifted_then_clean(shared_github: World) -> DriftedThenClean:
    """A drifted log checked twice, then a clean one, on a repository whose published reports hold two earlier days."""
    drifted, _ = declared_scenario(PARAMS, "drift")
    clean, _ = declared_scenario(PARAMS, "no_drift")
    github = shared_github
    reports = github.directory / "published-drift-reports"
    reports.mkdir()
    today = datetime.now(UTC).date()
    earlier = [
        {"day": (today - timedelta(days=2)).isoformat(), "status": "no_drift", "reasons": ["0 of 19 features"]},
        {"day": (today - timedelta(days=1)).isoformat(), "status": "stale", "reasons": ["the newest log line"]},
    ]
    (reports / "history.jsonl").write_text("".join(f"{json.dumps(day)}\n" for day in earlier))
    github.variables["DRIFT_REPORT_URL"] = str(reports)
    github.variables["INFERENCE_LOG_URL"] = str(simulate(github, "drifted", drifted))
    first = daily_drift_check(github)
    opened = _issues(github, "drift", "open")
    history_after_first = _text(reports / "history.jsonl")
    shown_after_first = _text(reports / today.isoformat() / "history.md")
    second = daily_drift_check(github)
    still_open = _issues(github, "drift", "open")
    github.variables["INFERENCE_LOG_URL"] = str(simulate(github, "clean", clean))
    checked_clean = daily_drift_check(github)
    return DriftedThenClean(
        github,
        (first, second, checked_clean),
        opened,
        still_open,
        reports,
        earlier,
        history_after_first,
        shown_after_first,
        today,
    )


class TestADriftedWeekThenACleanOne:
    """drift.yml on a drifted log twice, then on a clean one, with the daily reports published."""

    def test_drift_opens_one_issue_the_next_drifted_run_updates_it_and_a_clean_run_closes_it(
        self, drifted_then_clean: DriftedThenClean
    ) -> None:
        github, (first, second, clean) = drifted_then_clean.github, drifted_then_clean.runs
        opened = drifted_then_clean.opened
        # The first drifted run opens one issue labelled drift, and the second updates it instead of opening another
        assert first.jobs == {"check": "success", "issue": "success"}, first.output[-3000:]
        assert second.jobs == {"check": "success", "issue": "success"}, second.output[-3000:]
        assert len(opened) == 1, f"the first drifted run left {len(opened)} open drift issues"
        assert drifted_then_clean.still_open == opened, "the second drifted run did not keep the same single issue"
        assert any(comment.body.startswith("Still drifting") for comment in github.api.comments_on(opened[0]))
        # The clean run closes it, saying why
        assert clean.jobs == {"check": "success", "issue": "success"}, clean.output[-3000:]
        assert _issues(github, "drift", "open") == []
        assert _issues(github, "drift", "closed") == opened
        assert github.api.comments_on(opened[0])[-1].body.startswith("No longer drift: the check of")
        assert github.api.dispatches == [], "retraining was started without RETRAIN_ON_DRIFT"

    def test_the_status_history_is_kept_with_the_published_reports(self, drifted_then_clean: DriftedThenClean) -> None:
        earlier, today = drifted_then_clean.earlier, drifted_then_clean.today
        # The first check's status joins the history kept beside the day folders, and its report shows it
        kept = [json.loads(line) for line in drifted_then_clean.history_after_first.splitlines()]
        assert [(day["day"], day["status"]) for day in kept] == [
            (earlier[0]["day"], "no_drift"),
            (earlier[1]["day"], "stale"),
            (today.isoformat(), "drift"),
        ]
        shown = drifted_then_clean.shown_after_first
        assert f"| {today} | drift |" in shown, shown
        assert shown.index(f"| {today} | drift |") < shown.index(f"| {earlier[1]['day']} | stale |"), "newest first"
        # A later check on the same day replaces that day's line
        kept = [json.loads(line) for line in _text(drifted_then_clean.reports / "history.jsonl").splitlines()]
        assert [(day["day"], day["status"]) for day in kept] == [
            (earlier[0]["day"], "no_drift"),
            (earlier[1]["day"], "stale"),
            (today.isoformat(), "no_drift"),
        ]


def test_a_silent_log_and_then_broken_data_each_open_their_own_issue_and_never_retrain(github: World) -> None:
    # Given retraining on, and a week of traffic of the first scenario params.yaml declares stale: its log
    # stops after one of the days, and the days end today
    silent, stale_scenario = declared_scenario(PARAMS, "stale", StopLogging)
    broken, breach_scenario = declared_scenario(PARAMS, "contract_breach", ColumnShift)
    github.variables["RETRAIN_ON_DRIFT"] = "true"
    logged = min([SIMULATED_DAYS, *(shift.after_day for shift in shifts_of(stale_scenario, StopLogging))])
    last_day = datetime.now(UTC).date() - timedelta(days=SIMULATED_DAYS - logged)
    github.variables["INFERENCE_LOG_URL"] = str(simulate(github, "silent", silent))

    # When the daily check runs
    silent_check = daily_drift_check(github)

    # Then it opens one issue labelled stale-log, naming the last day seen, and starts no retraining
    assert silent_check.jobs == {"check": "success", "issue": "success"}, silent_check.output[-3000:]
    (stale,) = _issues(github, "stale-log", "open")
    assert github.api.issues[stale].title.startswith("Inference log silent: the newest log line was written at")
    assert f"the last day seen is {last_day.isoformat()}" in github.api.issues[stale].title
    assert _retrainings(github) == [], "a silent log started a retraining"

    # When the log is live again, but its lines break the schema on a column, as the first scenario params.yaml
    # declares contract_breach has them do
    github.variables["INFERENCE_LOG_URL"] = str(simulate(github, "broken", broken))
    broken_check = daily_drift_check(github)

    # Then the stale issue closes, a contract-breach issue naming the column opens, and still nothing retrains
    assert broken_check.jobs == {"check": "success", "issue": "success"}, broken_check.output[-3000:]
    assert _issues(github, "stale-log", "closed") == [stale]
    (breach,) = _issues(github, "contract-breach", "open")
    columns = [shift.column for shift in shifts_of(breach_scenario, ColumnShift)]
    title, body = github.api.issues[breach].title, github.api.issues[breach].body
    assert any(title.startswith(f"Data contract broken in production: {column} breaks") for column in columns), title
    quoted = re.compile(rf"^({'|'.join(map(re.escape, columns))}), \w+: the first lines$", re.MULTILINE)
    assert quoted.search(body), f"the issue's body is not the report with the breach's example lines:\n{body}"
    assert _issues(github, "drift", "open") == [], "drift ranks below the breach: no drift issue of its own"
    assert _retrainings(github) == [], "broken data started a retraining"


def test_degraded_outcomes_open_their_issue_and_start_a_retraining(github: World) -> None:
    # Given retraining on, and a week whose customers look as before but whose outcomes turned: the first
    # scenario params.yaml declares degraded
    decayed, _ = declared_scenario(PARAMS, "degraded")
    github.variables["RETRAIN_ON_DRIFT"] = "true"
    github.variables["INFERENCE_LOG_URL"] = str(simulate(github, "decayed", decayed))

    # When the daily check runs
    run = daily_drift_check(github)

    # Then a degraded issue naming a realised metric of params is opened, and one retraining is started
    assert run.jobs == {"check": "success", "issue": "success"}, run.output[-3000:]
    (degraded,) = _issues(github, "degraded", "open")
    title = github.api.issues[degraded].title
    metrics = PARAMS.drift.outcomes.metrics
    assert any(title.startswith(f"Outcomes degraded: realised {metric} ") for metric in metrics), (title, metrics)
    assert _retrainings(github) == ["retrain.yml"]


@dataclass(frozen=True)
class RetrainingOnDrift:
    """Two daily checks of a drifted log with RETRAIN_ON_DRIFT, and every run of retrain.yml and pr.yml they lead to."""

    github: World
    checks: list[Run]
    retrainings: list[Run]  # the retrain.yml runs the checks dispatched
    dispatched_by_retraining: list[Dispatch]  # what the first check's retraining dispatched
    reports: list[Run]  # the pr.yml runs that retraining dispatched, on its branch


@pytest.fixture(scope="class")
def retraining_on_drift(shared_github: World) -> RetrainingOnDrift:
    """drift.yml starts retrain.yml; GitHub runs it, and the pr.yml it dispatches; then a second check finds drift
    while the retraining pull request is still open."""
    drifted, _ = declared_scenario(PARAMS, "drift")
    github = shared_github
    github.variables["INFERENCE_LOG_URL"] = str(simulate(github, "drifted", drifted))
    github.variables["RETRAIN_ON_DRIFT"] = "true"
    github.api.actions_can_open_pull_requests = True
    checks = [daily_drift_check(github)]
    checked = len(github.api.dispatches)
    retrainings = run_dispatched(github, "retrain.yml", since=0)
    dispatched_by_retraining = github.api.dispatches[checked:]
    reports = run_dispatched(github, "pr.yml", since=checked)
    later = len(github.api.dispatches)
    checks.append(daily_drift_check(github))
    retrainings += run_dispatched(github, "retrain.yml", since=later)
    return RetrainingOnDrift(github, checks, retrainings, dispatched_by_retraining, reports)


class TestRetrainingOnDrift:
    """drift.yml with RETRAIN_ON_DRIFT on a drifted log, twice, and the retrain.yml and pr.yml runs it leads to."""

    def test_with_retrain_on_drift_at_most_one_retraining_pull_request_is_open(
        self, retraining_on_drift: RetrainingOnDrift
    ) -> None:
        github, checks = retraining_on_drift.github, retraining_on_drift.checks
        # Retraining ran, every run stayed green, and one retraining pull request is open
        assert all(check.jobs == {"check": "success", "issue": "success"} for check in checks), [
            check.output[-3000:] for check in checks
        ]
        retrain_runs = [run.jobs for run in retraining_on_drift.retrainings]
        assert retrain_runs, "drift with RETRAIN_ON_DRIFT started no retraining"
        assert all(jobs == {"retrain": "success"} for jobs in retrain_runs), retrain_runs
        assert len([pull for pull in github.api.pulls() if pull.state == "open"]) == 1, github.api.pulls()

    def test_retraining_pushes_a_branch_opens_a_pull_request_and_dispatches_the_pr_loop_which_reports(
        self, retraining_on_drift: RetrainingOnDrift
    ) -> None:
        github = retraining_on_drift.github
        assert retraining_on_drift.retrainings, "the drifted check started no retraining"
        run = retraining_on_drift.retrainings[0]
        # The branch reaches the origin with the run's credentials, a pull request is opened for it, and pr.yml
        # is dispatched on it (with ci.yml), since a pull request opened with GITHUB_TOKEN (no RETRAIN_TOKEN)
        # starts no workflow
        assert run.jobs == {"retrain": "success"}, run.output[-3000:]
        pushed = [ref for push in github.origin.pushes for _, _, ref in push.updates if ref.startswith("refs/heads/")]
        assert len(pushed) == 1, github.origin.pushes
        branch = pushed[0].removeprefix("refs/heads/")
        assert [(pull.head, pull.state) for pull in github.api.pulls()] == [(branch, "open")]
        dispatched = {(dispatch.workflow, dispatch.ref) for dispatch in retraining_on_drift.dispatched_by_retraining}
        assert dispatched == {("pr.yml", branch), ("ci.yml", branch)}, retraining_on_drift.dispatched_by_retraining
        # The dispatched pr.yml reports on the retraining pull request's head, and comments on the pull request
        (report,) = retraining_on_drift.reports
        head = github.origin.refs(REPOSITORY)[f"refs/heads/{branch}"]
        checkouts = [call["checkout"] for call in github.recorded("actions") if "checkout" in call]
        assert [checkout["sha"] for checkout in checkouts if checkout["ref"] == f"refs/heads/{branch}"] == [head]
        comments = github.api.comments_on(github.api.pulls()[0].number)
        assert len(comments) == 1, comments
        assert "| metric | main | this PR |" in comments[0].body
        # and its gate decides the check, as on any pull request: a model retrained on drifted traffic may lose to
        # main's on the held-out customers (which no fold-in reaches), and then only the gate step fails
        passed = "**Gate: ✅ passed**" in comments[0].body
        assert report.jobs == {"model-report": "success" if passed else "failure"}, report.output[-3000:]
        assert re.findall(r"Failure - Main (.+?) \[", report.output) == ([] if passed else ["make gate"])
