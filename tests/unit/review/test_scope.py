"""Whether a pull request retrains: pr.yml has no `paths:` filter (a filtered-out required check
never reports), so its first step asks `mlloop pr-scope`. A change to a pipeline input (what dvc.yaml
declares, a DVC pointer, params report.loop_inputs) runs the loop; any other change skips it; and
when the answer is unknown (no baseline, no common history) the loop runs.
"""

import shutil
from pathlib import Path, PurePosixPath

import pytest
from dvc.repo import Repo
from tests.git_cli import git

from mlloop.cli import main
from mlloop.config import Params, load_params
from mlloop.review.scope import decide, pipeline_inputs, pr_scope

PROJECT_ROOT = Path(__file__).parents[3]
INPUTS = frozenset(map(PurePosixPath, ["params.yaml", "src", "dvc.lock", "reports/plot_data"]))


def _paths(*names: str) -> list[PurePosixPath]:
    return [PurePosixPath(name) for name in names]


def test_a_changed_hyperparameter_runs_the_loop_naming_the_file() -> None:
    scope = decide(_paths("params.yaml", "README.md"), INPUTS)

    assert scope.runs
    assert scope.verdict == "run"
    assert scope.reason == "params.yaml changed: the pipeline runs"


def test_a_file_inside_an_input_folder_runs_the_loop() -> None:
    assert decide(_paths("src/mlloop/review/markdown.py"), INPUTS).runs
    assert decide(_paths("reports/plot_data/roc.csv"), INPUTS).runs


def test_a_dvc_pointer_anywhere_runs_the_loop() -> None:
    # a data version the pipeline may read through params, though no stage lists it
    assert decide(_paths("data/sources/training-2026-11-30.parquet.dvc"), INPUTS).runs


def test_a_change_to_no_input_skips_the_loop_naming_what_changed() -> None:
    scope = decide(_paths("docs/pull-requests.md", "README.md"), INPUTS)

    assert not scope.runs
    assert scope.verdict == "skip"
    assert scope.reason == "README.md, docs/pull-requests.md changed, none of them a pipeline input: nothing to retrain"


def test_a_name_that_only_starts_like_an_input_is_not_one() -> None:
    assert not decide(_paths("srcs/notes.txt", "params.yaml.orig", "tests/src/x.py"), INPUTS).runs


def test_no_change_at_all_skips() -> None:
    assert decide([], INPUTS).reason == "no file changed: nothing to retrain"


def test_a_long_list_of_changes_is_cut_after_five() -> None:
    scope = decide(_paths(*(f"src/module_{index}.py" for index in range(8))), INPUTS)

    assert scope.reason.endswith("src/module_4.py and 3 more changed: the pipeline runs")


@pytest.fixture
def project_params(monkeypatch: pytest.MonkeyPatch) -> Params:
    monkeypatch.chdir(PROJECT_ROOT)
    return load_params(PROJECT_ROOT / "params.yaml")


def test_the_inputs_are_what_dvc_yaml_declares_plus_the_loops_own_files(project_params: Params) -> None:
    inputs = pipeline_inputs(project_params)

    declared = {"dvc.yaml", "dvc.lock", "params.yaml", "schema.yaml", "src/mlloop/core/model.py", "metrics.json"}
    assert {PurePosixPath(path) for path in declared} <= inputs
    assert {PurePosixPath(path.as_posix()) for path in project_params.report.loop_inputs} <= inputs
    # what a pull request can change without changing the model or its report
    for unrelated in ("README.md", "docs/monitoring.md", "tests/unit/review/test_scope.py", "bento/k8s/base"):
        assert not decide([PurePosixPath(unrelated)], inputs).runs, unrelated


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DVC project (this one's dvc.yaml, params and schema) with `main` and a branch `change` checked out."""
    root = tmp_path / "project"
    root.mkdir()
    for name in ("dvc.yaml", "params.yaml", "schema.yaml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, root / name)
    git(root, "init", "--quiet", "--initial-branch=main")
    Repo.init(root).close()
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "--message", "main")
    git(root, "switch", "--quiet", "--create", "change")
    monkeypatch.chdir(root)
    return root


def _commit(root: Path, name: str, text: str) -> None:
    (root / name).write_text(text)
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "--message", f"change {name}")


def test_a_branch_changing_the_readme_skips(repository: Path) -> None:
    _commit(repository, "README.md", "words\n")

    scope = pr_scope(load_params(Path("params.yaml")), "main")

    assert scope.reason == "README.md changed, none of them a pipeline input: nothing to retrain"


def test_a_branch_changing_the_schema_runs(repository: Path) -> None:
    _commit(repository, "README.md", "words\n")
    _commit(repository, "schema.yaml", (repository / "schema.yaml").read_text() + "\n")

    assert pr_scope(load_params(Path("params.yaml")), "main").reason == "schema.yaml changed: the pipeline runs"


def test_changes_on_main_since_the_branch_point_are_not_the_pull_requests(repository: Path) -> None:
    git(repository, "switch", "--quiet", "main")
    _commit(repository, "schema.yaml", (repository / "schema.yaml").read_text() + "\n")
    git(repository, "switch", "--quiet", "change")
    _commit(repository, "README.md", "words\n")

    assert not pr_scope(load_params(Path("params.yaml")), "main").runs


@pytest.mark.usefixtures("repository")
def test_a_missing_baseline_runs_the_loop() -> None:
    scope = pr_scope(load_params(Path("params.yaml")), "no-such-branch")

    assert scope.reason == "baseline `no-such-branch` was not found: the pipeline runs"


def test_no_common_history_with_the_baseline_runs_the_loop(repository: Path) -> None:
    params = load_params(Path("params.yaml"))
    git(repository, "switch", "--quiet", "--orphan", "unrelated")  # an empty tree
    _commit(repository, "README.md", "words\n")

    scope = pr_scope(params, "main")

    assert scope.runs
    assert scope.reason.startswith("cannot list the files changed since ")


def test_the_command_prints_the_verdict_alone_and_the_reason_on_stderr(
    repository: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _commit(repository, "README.md", "words\n")

    assert main(["pr-scope", "--baseline", "main"]) == 0

    printed = capsys.readouterr()
    assert printed.out == "skip\n"
    assert "nothing to retrain" in printed.err
