"""promote.yml's actions from the A/B report: promote moves stage prod to the report's challenger (and
refuses a report that did not decide promote, unless a version is named by hand); retire is keep_champion
once the evidence window closed; each action starts deploy.yml on the right ref; the report goes on one
tracking issue, opened once and then updated. A real git repository holds the registry; a scripted `gh`
on the PATH records the calls."""

import json
from datetime import date
from pathlib import Path

import gto.api
import pytest
from tests.git_cli import IDENTITY, git
from tests.stand_ins.scripted_gh import ISSUE_URL, ScriptedGh

from mlloop.errors import SourceError
from mlloop.monitoring.ab_result import AbReportFiles, AbResult, AbWindow, Decision, Evidence, Settled, result_json
from mlloop.monitoring.promotion import TRACKING_LABEL, action, post_report, promote_version, redeploy
from mlloop.serving.registry import version_in_stage

WINDOW = AbWindow(
    source="log",
    days=7,
    start=date(2026, 3, 1),
    end=date(2026, 3, 7),
    first_day=date(2026, 3, 1),
    last_day=date(2026, 3, 7),
    rows=4_000,
    labels=3_900,
    unmatched_labels=0,
)


def _result(
    decision: Decision, closed: bool = True, challenger_version: str = "v0.2.0", settled: Settled | None = None
) -> AbResult:
    return AbResult(
        decision=decision,
        reasons=[f"the reason for {decision}"],
        rule="The rule, in words.",
        mode="shadow",
        challenger_version=challenger_version,
        skipped_rows=0,
        settled=settled,
        window=WINDOW,
        evidence=Evidence(days=7, first_day=date(2026, 3, 1) if closed else date(2026, 3, 4), closed=closed),
        variants=[],
        difference=None,
        floors=[],
        commit=None,
    )


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository, entered: v0.1.0 at stage prod on HEAD~1, and v0.2.0, the challenger, on HEAD."""
    for name, value in IDENTITY.items():
        monkeypatch.setenv(name, value)
    repository = tmp_path / "repository"
    repository.mkdir()
    monkeypatch.chdir(repository)
    git(repository, "init", "--quiet", "--initial-branch=main")
    for message in ("the champion", "the challenger"):
        git(repository, "commit", "--quiet", "--allow-empty", "--message", message)
    gto.api.register(".", "churn", "HEAD~1", version="v0.1.0")
    gto.api.assign(".", "churn", "prod", version="v0.1.0")
    gto.api.register(".", "churn", "HEAD", version="v0.2.0")
    return repository


def _report(directory: Path, result: AbResult) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    files = AbReportFiles(directory)
    files.result.write_text(result_json(result))
    files.markdown.write_text("# Champion and challenger\n")
    return directory


def _prod_version() -> str | None:
    staged = version_in_stage("churn")
    return None if staged is None else staged.version


@pytest.mark.parametrize(
    ("decision", "closed", "expected"),
    [
        ("promote", True, "promote"),
        ("keep_champion", True, "retire"),
        ("keep_champion", False, "none"),
        ("insufficient_data", True, "none"),
        ("insufficient_data", False, "none"),
    ],
)
def test_the_decision_and_the_evidence_window_choose_the_action(
    decision: Decision, closed: bool, expected: str
) -> None:
    assert action(_result(decision, closed)) == expected


@pytest.mark.parametrize(("decision", "settled"), [("promote", "promoted"), ("keep_champion", "retired")])
def test_a_decision_the_log_shows_carried_out_asks_nothing_more(decision: Decision, settled: Settled) -> None:
    # the evidence window holds the challenger's lines for days after: each daily run would redeploy again
    assert action(_result(decision, settled=settled)) == "none"


@pytest.mark.usefixtures("registry")
def test_promote_moves_prod_to_the_challenger_the_report_names(tmp_path: Path) -> None:
    directory = _report(tmp_path / "ab", _result("promote"))

    message = promote_version(directory, None, push=False)

    assert _prod_version() == "v0.2.0"
    assert "moved stage prod to churn@v0.2.0 from v0.1.0" in message


@pytest.mark.usefixtures("registry")
def test_a_challenger_logged_by_its_version_tag_is_promoted_to_that_version(tmp_path: Path) -> None:
    # `mlloop simulate` logs a registered model by its tag, churn@v0.2.0
    directory = _report(tmp_path / "ab", _result("promote", challenger_version="churn@v0.2.0"))

    promote_version(directory, None, push=False)

    assert _prod_version() == "v0.2.0"


@pytest.mark.parametrize("decision", ["keep_champion", "insufficient_data"])
@pytest.mark.usefixtures("registry")
def test_a_report_that_did_not_decide_promote_moves_nothing(tmp_path: Path, decision: Decision) -> None:
    directory = _report(tmp_path / "ab", _result(decision))

    with pytest.raises(SourceError, match=f"the decision is {decision}, not promote"):
        promote_version(directory, None, push=False)

    assert _prod_version() == "v0.1.0"


@pytest.mark.usefixtures("registry")
def test_a_version_named_by_hand_is_promoted_whatever_the_report(tmp_path: Path) -> None:
    promote_version(tmp_path / "no-report", "v0.2.0", push=False)

    assert _prod_version() == "v0.2.0"


@pytest.mark.usefixtures("registry")
def test_without_a_report_and_without_a_version_the_error_says_to_run_the_report(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="make ab-report"):
        promote_version(tmp_path / "no-report", None, push=False)


@pytest.mark.usefixtures("registry")
def test_after_a_promotion_deploy_yml_runs_on_the_default_branch(tmp_path: Path, gh: ScriptedGh) -> None:
    directory = _report(tmp_path / "ab", _result("promote"))
    promote_version(directory, None, push=False)

    message = redeploy(directory)

    assert gh.calls == [["workflow", "run", "deploy.yml"]]
    assert "churn@v0.2.0 the champion" in message


@pytest.mark.usefixtures("registry")
def test_retiring_the_challenger_deploys_the_champions_own_commit(tmp_path: Path, gh: ScriptedGh) -> None:
    redeploy(_report(tmp_path / "ab", _result("keep_champion")))

    assert gh.calls == [["workflow", "run", "deploy.yml", "--field", "ref=churn@v0.1.0"]]


@pytest.mark.usefixtures("registry")
def test_insufficient_data_redeploys_nothing(tmp_path: Path, gh: ScriptedGh) -> None:
    message = redeploy(_report(tmp_path / "ab", _result("insufficient_data")))

    assert gh.calls == []
    assert message == "insufficient_data: nothing to redeploy"


def test_the_first_report_opens_the_tracking_issue_with_ab_md_as_body(tmp_path: Path, gh: ScriptedGh) -> None:
    directory = _report(tmp_path / "ab", _result("insufficient_data", closed=False))

    message = post_report(directory)

    create = gh.calls[-1]
    assert create[:2] == ["issue", "create"]
    assert create[create.index("--label") + 1] == TRACKING_LABEL
    assert create[create.index("--body-file") + 1] == str(AbReportFiles(directory).markdown)
    assert message == f"insufficient_data: opened {ISSUE_URL}"


def test_a_later_report_updates_the_open_tracking_issue_and_comments_the_decision(
    tmp_path: Path, gh: ScriptedGh
) -> None:
    gh.answer(f"issue list --label {TRACKING_LABEL}", stdout=json.dumps([{"number": 12}]))
    directory = _report(tmp_path / "ab", _result("keep_champion"))

    message = post_report(directory)

    acting = [call[:3] for call in gh.calls if call[:2] != ["issue", "list"]]
    assert acting == [["issue", "edit", "12"], ["issue", "comment", "12"]]
    comment = gh.calls[-1]
    assert "keep_champion (retire): the reason for keep_champion" in comment[comment.index("--body") + 1]
    assert message == "keep_champion: updated issue #12"
