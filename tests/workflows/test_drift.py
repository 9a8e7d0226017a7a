"""drift.yml, run for real under act on its schedule: the check's status alone decides. One issue per
alert status under its own label, kept in step; retraining for drift and degraded at most once, never
for a silent log or broken data; the status history kept with the published reports."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.git_cli import git
from tests.workflows.harness import Run, World, simulate

pytestmark = pytest.mark.workflows

SCHEDULE = {"schedule": "17 5 * * *", "ref": "refs/heads/main"}


def _check(github: World) -> Run:
    return github.run("drift.yml", "schedule", SCHEDULE, at=git(github.developer, "rev-parse", "origin/main"))


def _issues(github: World, label: str, state: str) -> list[int]:
    return [issue.number for issue in github.api.issues.values() if label in issue.labels and issue.state == state]


def _retrainings(github: World) -> list[str]:
    return [dispatch.workflow for dispatch in github.api.dispatches if dispatch.workflow == "retrain.yml"]


def _flip_outcomes(log: Path) -> None:
    """Every delayed label turned the other way: the customers look the same, the model now ranks them wrongly."""
    for path in (log / "labels").glob("*.jsonl"):
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        flipped = [
            {key: not value if isinstance(value, bool) else value for key, value in line.items()} for line in lines
        ]
        path.write_text("".join(f"{json.dumps(line)}\n" for line in flipped))


def test_drift_opens_one_issue_the_next_drifted_run_updates_it_and_a_clean_run_closes_it(github: World) -> None:
    # Given an inference log whose latest week drifted (a price increase)
    github.variables["INFERENCE_LOG_URL"] = str(simulate(github, "drifted", "price_increase"))

    # When the daily check runs twice on it
    first = _check(github)
    opened = _issues(github, "drift", "open")
    second = _check(github)

    # Then one issue labelled drift is opened, and the second run updates it instead of opening another
    assert first.jobs == {"check": "success", "issue": "success"}, first.output[-3000:]
    assert second.jobs == {"check": "success", "issue": "success"}, second.output[-3000:]
    assert len(opened) == 1, f"the first drifted run left {len(opened)} open drift issues"
    assert _issues(github, "drift", "open") == opened, "the second drifted run did not keep the same single issue"
    assert any(comment.body.startswith("Still drifting") for comment in github.api.comments_on(opened[0]))

    # When the log's latest week is clean again
    github.variables["INFERENCE_LOG_URL"] = str(simulate(github, "clean", "none"))
    clean = _check(github)

    # Then the issue is closed, saying why
    assert clean.jobs == {"check": "success", "issue": "success"}, clean.output[-3000:]
    assert _issues(github, "drift", "open") == []
    assert _issues(github, "drift", "closed") == opened
    assert github.api.comments_on(opened[0])[-1].body.startswith("No longer drift: the check of")
    assert github.api.dispatches == [], "retraining was started without RETRAIN_ON_DRIFT"


def test_a_silent_log_and_then_broken_data_each_open_their_own_issue_and_never_retrain(github: World) -> None:
    # Given retraining on, and a log whose last week of traffic ended ten days ago
    github.variables["RETRAIN_ON_DRIFT"] = "true"
    ended = datetime.now(UTC).date() - timedelta(days=16)
    github.variables["INFERENCE_LOG_URL"] = str(simulate(github, "silent", "none", start=ended))

    # When the daily check runs
    silent = _check(github)

    # Then it opens one issue labelled stale-log, naming the last day seen, and starts no retraining
    assert silent.jobs == {"check": "success", "issue": "success"}, silent.output[-3000:]
    (stale,) = _issues(github, "stale-log", "open")
    last_day = (ended + timedelta(days=6)).isoformat()
    assert github.api.issues[stale].title.startswith("Inference log silent: the newest log line was written at")
    assert f"the last day seen is {last_day}" in github.api.issues[stale].title
    assert _retrainings(github) == [], "a silent log started a retraining"

    # When the log is live again, but a quarter of its lines carry a payment method the schema lacks
    github.variables["INFERENCE_LOG_URL"] = str(simulate(github, "broken", "new_payment_method"))
    broken = _check(github)

    # Then the stale issue closes, a contract-breach issue opens, and still nothing retrains
    assert broken.jobs == {"check": "success", "issue": "success"}, broken.output[-3000:]
    assert _issues(github, "stale-log", "closed") == [stale]
    (breach,) = _issues(github, "contract-breach", "open")
    assert github.api.issues[breach].title.startswith("Data contract broken in production: payment_method breaks")
    assert "Digital wallet" in github.api.issues[breach].body, "the issue's body is the report, with the breach"
    assert _issues(github, "drift", "open") == [], "drift ranks below the breach: no drift issue of its own"
    assert _retrainings(github) == [], "broken data started a retraining"


def test_degraded_outcomes_open_their_issue_and_start_a_retraining(github: World) -> None:
    # Given retraining on, and a week whose customers look as before but whose outcomes turned
    github.variables["RETRAIN_ON_DRIFT"] = "true"
    log = simulate(github, "decayed", "none")
    _flip_outcomes(log)
    github.variables["INFERENCE_LOG_URL"] = str(log)

    # When the daily check runs
    run = _check(github)

    # Then a degraded issue is opened and one retraining is started
    assert run.jobs == {"check": "success", "issue": "success"}, run.output[-3000:]
    (degraded,) = _issues(github, "degraded", "open")
    assert github.api.issues[degraded].title.startswith("Outcomes degraded: realised roc_auc")
    assert _retrainings(github) == ["retrain.yml"]


def test_the_status_history_is_kept_with_the_published_reports(github: World) -> None:
    # Given published reports that already hold two earlier days' statuses
    reports = github.directory / "published-drift-reports"
    reports.mkdir()
    today = datetime.now(UTC).date()
    earlier = [
        {"day": (today - timedelta(days=2)).isoformat(), "status": "no_drift", "reasons": ["0 of 19 features"]},
        {"day": (today - timedelta(days=1)).isoformat(), "status": "stale", "reasons": ["the newest log line"]},
    ]
    (reports / "history.jsonl").write_text("".join(f"{json.dumps(day)}\n" for day in earlier))
    github.variables["DRIFT_REPORT_URL"] = str(reports)
    github.variables["INFERENCE_LOG_URL"] = str(simulate(github, "drifted", "price_increase"))

    # When the daily check runs
    run = _check(github)

    # Then today's status joins the history kept beside the day folders, and today's report shows it
    assert run.jobs == {"check": "success", "issue": "success"}, run.output[-3000:]
    kept = [json.loads(line) for line in (reports / "history.jsonl").read_text().splitlines()]
    assert [(day["day"], day["status"]) for day in kept] == [
        (earlier[0]["day"], "no_drift"),
        (earlier[1]["day"], "stale"),
        (today.isoformat(), "drift"),
    ]
    shown = (reports / today.isoformat() / "history.md").read_text()
    assert shown.index(f"| {today} | drift |") < shown.index(f"| {earlier[1]['day']} | stale |"), "newest first"


def test_with_retrain_on_drift_at_most_one_retraining_pull_request_is_open(github: World) -> None:
    # Given a drifted log, RETRAIN_ON_DRIFT, and the setting that lets Actions open pull requests
    github.variables["INFERENCE_LOG_URL"] = str(simulate(github, "drifted", "price_increase"))
    github.variables["RETRAIN_ON_DRIFT"] = "true"
    github.api.actions_can_open_pull_requests = True

    # When two daily checks find drift, and GitHub runs each retraining they dispatch
    main = git(github.developer, "rev-parse", "origin/main")
    started = 0
    for _ in range(2):
        check = _check(github)
        assert check.jobs == {"check": "success", "issue": "success"}, check.output[-3000:]
        retrainings = [dispatch for dispatch in github.api.dispatches if dispatch.workflow == "retrain.yml"]
        for dispatch in retrainings[started:]:
            event = {"ref": f"refs/heads/{dispatch.ref}", "inputs": dispatch.inputs}
            github.run("retrain.yml", "workflow_dispatch", event, at=main)
        started = len(retrainings)

    # Then retraining ran, every run stayed green, and one retraining pull request is open
    retrain_runs = [run.jobs for run in github.runs if run.workflow == "retrain.yml"]
    assert retrain_runs, "drift with RETRAIN_ON_DRIFT started no retraining"
    assert all(jobs == {"retrain": "success"} for jobs in retrain_runs), retrain_runs
    assert len([pull for pull in github.api.pulls() if pull.state == "open"]) == 1, github.api.pulls()
