"""What promote.yml does with the A/B report's decision, and the one issue that tracks it, through GTO and `gh`.

The report's decision maps to one action:
- promote: the registry's stage prod moves to the challenger (serving.registry.promote), and deploy.yml
  runs again on the default branch; its bento then holds the promoted version alone, as the champion
  (or beside a newer challenger, when one was merged since).
- retire: keep_champion once the evidence window has closed. deploy.yml runs on the commit of the version
  at prod, whose bento holds the champion alone: the challenger stops being served.
- none: insufficient_data (the window still open, too few labels, or no challenger in the log).
Both redeploys are deploy.yml itself, dispatched: one delivery path, with its gate, smoke tests, rollback
and production's reviewers. Both are idempotent: a later run on the same report redeploys the same commit.

The report is posted on one issue under the label TRACKING_LABEL: opened once, then its body replaced and
a comment added at each run, so whoever watches it sees every decision.
"""

import json
from pathlib import Path
from typing import Literal

from mlloop.errors import SourceError
from mlloop.monitoring.ab_result import AbReportFiles, AbResult, read_result
from mlloop.monitoring.github import gh
from mlloop.serving.bento_model import MODEL_NAME
from mlloop.serving.registry import PRODUCTION_STAGE, promote, version_in_stage

Action = Literal["promote", "retire", "none"]

DEPLOY_WORKFLOW = "deploy.yml"
TRACKING_LABEL = "ab-test"
TRACKING_COLOR = "5319e7"
TRACKING_TITLE = f"Champion and challenger: the A/B report of {MODEL_NAME}"


def action(result: AbResult) -> Action:
    """What the report's decision asks of production: nothing once the log shows it done, or the evidence window,
    which still holds the challenger's lines for days after, would redeploy every day.
    """
    if result.decision == "promote" and result.settled != "promoted":
        return "promote"
    if result.decision == "keep_champion" and result.evidence.closed and result.settled != "retired":
        return "retire"
    return "none"


def promote_version(report_directory: Path, version: str | None, push: bool) -> str:
    """Move stage prod to `version`, or else to the challenger the last report decided to promote."""
    if version is None:
        result = read_result(report_directory)
        if result.decision != "promote" or result.challenger_version is None:
            raise SourceError(
                f"{AbReportFiles(report_directory).result}: the decision is {result.decision}, not promote: "
                "nothing to promote; name a version to promote or roll back to by hand (make promote VERSION=v0.2.0)"
            )
        version = result.challenger_version
    return promote(MODEL_NAME, version, push=push)


def redeploy(report_directory: Path) -> str:
    """Start deploy.yml for the last report's action: the default branch after a promotion, the champion's
    commit to retire a challenger; nothing otherwise.
    """
    result = read_result(report_directory)
    chosen = action(result)
    if chosen == "none":
        return f"{result.decision}: nothing to redeploy"
    champion = version_in_stage(MODEL_NAME)
    if champion is None:
        raise SourceError(f"no version of {MODEL_NAME} is at stage {PRODUCTION_STAGE}: nothing to deploy as champion")
    if chosen == "promote":
        gh("workflow", "run", DEPLOY_WORKFLOW)
        return f"promote: started {DEPLOY_WORKFLOW} on the default branch, with {champion.tag} the champion"
    gh("workflow", "run", DEPLOY_WORKFLOW, "--field", f"ref={champion.tag}")
    return f"retire: started {DEPLOY_WORKFLOW} on {champion.tag}, the champion alone"


def _tracking_issue() -> str | None:
    """The number of the open tracking issue, if any."""
    listed = json.loads(gh("issue", "list", "--label", TRACKING_LABEL, "--state", "open", "--json", "number"))
    return str(listed[0]["number"]) if listed else None


def post_report(report_directory: Path) -> str:
    """Open the tracking issue with the report, or replace its body and comment with the decision."""
    result = read_result(report_directory)
    body = AbReportFiles(report_directory).markdown
    summary = f"{result.decision} ({action(result)}): {'; '.join(result.reasons)}"
    number = _tracking_issue()
    if number is None:
        gh(
            "label",
            "create",
            TRACKING_LABEL,
            "--force",
            "--color",
            TRACKING_COLOR,
            "--description",
            "the champion/challenger report of promote.yml",
        )
        url = gh("issue", "create", "--title", TRACKING_TITLE, "--label", TRACKING_LABEL, "--body-file", str(body))
        return f"{result.decision}: opened {url.strip()}"
    gh("issue", "edit", number, "--body-file", str(body))
    gh("issue", "comment", number, "--body", f"The report of {result.window.end}: {summary}")
    return f"{result.decision}: updated issue #{number}"
